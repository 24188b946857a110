# The book's chapter-5 run in PyTorch on token ids written by `rlm tokenize --json`, for comparison with `rlm train` (run by hand):
#   rlm tokenize --vocab ../shared/data/gpt2 --text "$(cat ../shared/data/the-verdict.txt)" --json > ids.json
#   /usr/bin/python3 tools/reference/verdict_pytorch.py ids.json 0.1
# GPT_CONFIG_124M with context 256, AdamW lr 4e-4 wd 0.1, batch 2, 10 epochs; prints eval-mode train and val loss every 10 steps.
import json, math, sys, torch, torch.nn as nn, torch.nn.functional as F
torch.set_num_threads(2); torch.manual_seed(123)
drop = float(sys.argv[2]) if len(sys.argv) > 2 else 0.1
ids = json.load(open(sys.argv[1]))['ids']
split = int(0.9 * len(ids)); train, val = ids[:split], ids[split:]
C, H, L, V, T = 768, 12, 12, 50257, 256
class Block(nn.Module):
    def __init__(s):
        super().__init__(); s.n1 = nn.LayerNorm(C); s.n2 = nn.LayerNorm(C)
        s.qkv = nn.Linear(C, 3 * C, bias=False); s.proj = nn.Linear(C, C); s.fc = nn.Linear(C, 4 * C); s.out = nn.Linear(4 * C, C)
        s.d = nn.Dropout(drop); s.ad = nn.Dropout(drop)
    def forward(s, x):
        B, t, _ = x.shape
        q, k, v = s.qkv(s.n1(x)).view(B, t, 3, H, C // H).permute(2, 0, 3, 1, 4)
        a = (q @ k.transpose(-2, -1)) / math.sqrt(C // H)
        a = a.masked_fill(torch.triu(torch.ones(t, t, dtype=torch.bool), 1), float('-inf'))
        y = (s.ad(a.softmax(-1)) @ v).transpose(1, 2).reshape(B, t, C)
        x = x + s.d(s.proj(y))
        return x + s.d(s.out(F.gelu(s.fc(s.n2(x)), approximate='tanh')))
class GPT(nn.Module):
    def __init__(s):
        super().__init__(); s.tok = nn.Embedding(V, C); s.pos = nn.Embedding(T, C); s.d = nn.Dropout(drop)
        s.blocks = nn.Sequential(*[Block() for _ in range(L)]); s.norm = nn.LayerNorm(C); s.head = nn.Linear(C, V, bias=False)
    def forward(s, x):
        return s.head(s.norm(s.blocks(s.d(s.tok(x) + s.pos(torch.arange(x.shape[1]))))))
def windows(tok):
    return [(tok[i:i + T], tok[i + 1:i + T + 1]) for i in range(0, len(tok) - T, T)]
tw, vw = windows(train), windows(val)
model = GPT(); opt = torch.optim.AdamW(model.parameters(), lr=4e-4, weight_decay=0.1)
def loss_of(batch): x = torch.tensor([b[0] for b in batch]); y = torch.tensor([b[1] for b in batch]); return F.cross_entropy(model(x).flatten(0, 1), y.flatten())
def evaluate(ws):
    model.eval()
    with torch.no_grad(): r = sum(loss_of([w]).item() for w in ws[:10]) / min(10, len(ws))
    model.train(); return r
step = 0
g = torch.Generator().manual_seed(123)
for epoch in range(10):
    perm = torch.randperm(len(tw), generator=g).tolist()
    for i in range(0, len(perm) - 1, 2):
        opt.zero_grad(); loss_of([tw[perm[i]], tw[perm[i + 1]]]).backward(); opt.step(); step += 1
        if step % 10 == 0: print(step, round(evaluate(tw), 3), round(evaluate(vw), 3), flush=True)
print("final", step, round(evaluate(tw), 3), round(evaluate(vw), 3))
