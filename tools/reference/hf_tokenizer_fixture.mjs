// Writes tests/ResidualLM.Tests/fixtures/hf_tokenizers/: small Hugging Face tokenizer.json files in the styles of
// GPT-2, Llama 3, Qwen2, SmolLM (Digits + ByteLevel), TinyLlama/Llama 2 (SentencePiece BPE with byte fallback) and
// Mistral-style Metaspace, built here from merges this script trains on its own text, plus cases.json with the ids
// that Hugging Face's Rust `tokenizers` (the npm binding, version 0.23.2) gives for tricky strings, checked against
// the pure-JavaScript `@huggingface/tokenizers` 0.2.0, and chat.json with ChatML renderings by `@huggingface/jinja`.
//
// Usage (installs the packages outside the repository; never commit node_modules):
//   mkdir -p /tmp/npmref && (cd /tmp/npmref && npm init -y && npm install tokenizers@0.23.2 @huggingface/tokenizers@0.2.0 @huggingface/jinja@0.5.11)
//   NPMREF=/tmp/npmref node tools/reference/hf_tokenizer_fixture.mjs [out-dir]
//
// The vocabularies are tiny (a few hundred merges), so most words split into several tokens: that exercises the
// merge order far more than a real vocabulary would. Where the two references disagree the Rust ids are recorded and
// the disagreement is listed in cases.json ("disagreements"), so a reader sees it.
import { createRequire } from 'node:module';
import { writeFileSync, mkdirSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const npmref = process.env.NPMREF ?? '/tmp/npmref';
const require = createRequire(join(npmref, 'package.json'));
const rust = require('tokenizers');
const { Tokenizer: JsTokenizer } = require('@huggingface/tokenizers');
const { Template } = require('@huggingface/jinja');

const here = dirname(fileURLToPath(import.meta.url));
const outDir = process.argv[2] ?? join(here, '../../tests/ResidualLM.Tests/fixtures/hf_tokenizers');

// ---- Training text: prose, code, numbers and a little of several scripts. ----
const corpus = [
  'The lighthouse keeper counted the ships every evening, writing each name in a ledger that nobody read.',
  "In 1987 the ledger ran out of pages, so she started a second one; by 2003 there were eleven, and by 2024 twenty.",
  '"Why keep counting?" asked her nephew, who had come for the summer with a laptop and no patience.',
  "She shrugged: \"Because the sea doesn't.\" He didn't understand until September, when the fog came in and",
  "stayed for nine days. It's the number at the bottom of the page that they'll remember, isn't it? We're sure I'm right.",
  'The 3 ships, 12 boats and 365 days: 1000, 2000, 3000, 4096, 65536, 123456789 and 3.14159 are numbers.',
  'def mean(values):\n    """Average of a list."""\n    if not values:\n        return 0.0\n    total = sum(values)\n    return total / len(values)\n',
  'for (int i = 0; i < n; i++) {\n\tx[i] += y[i] * 2;\n}\n',
  'Le café est très bon, naïve crème brûlée. Привет, мир! Как дела? 你好，世界。日本語のテキストです。',
  'the the the then there these those this that with without within when where which while who whom whose',
  'counting counted counts ledger ledgers nephew patience summer september evening evenings number numbers',
  // Supplementary-plane letters and digits, so that merges of their bytes exist: a pattern run over UTF-16 code
  // units instead of code points would then cut and merge them differently.
  '𝟙𝟚𝟛 𝟙𝟚𝟛 𝟙𝟚𝟛 𠀀abc 𠀀abc 𠀀abc x𠀀 x𠀀 x𠀀 𝐀𝐁 𝐀𝐁 𝐀𝐁',
];
const corpusText = corpus.join('\n') + '\n' + corpus.join(' ');

// ---- GPT-2's byte <-> character alphabet (defined by a rule). ----
const byteToChar = (() => {
  const map = []; let next = 256;
  for (let b = 0; b < 256; b++) {
    const printable = (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
    map.push(String.fromCodePoint(printable ? b : next++));
  }
  return map;
})();
const toAlphabet = text => [...new TextEncoder().encode(text)].map(b => byteToChar[b]).join('');

// ---- A plain BPE trainer: most frequent adjacent pair, ties by the smaller pair string. ----
function trainMerges(words, mergeCount, mergeable) {
  const sequences = [...words].map(([word, count]) => ({ symbols: [...word], count }));
  const merges = [];
  while (merges.length < mergeCount) {
    const counts = new Map();
    for (const { symbols, count } of sequences)
      for (let i = 0; i + 1 < symbols.length; i++) {
        if (!mergeable(symbols[i]) || !mergeable(symbols[i + 1])) continue;
        const key = symbols[i] + '\u0000' + symbols[i + 1];
        counts.set(key, (counts.get(key) ?? 0) + count);
      }
    let best = null, bestCount = 1;
    for (const [key, count] of counts)
      if (count > bestCount || (count === bestCount && best !== null && key < best)) { best = key; bestCount = count; }
    if (best === null) break;
    const [left, right] = best.split('\u0000');
    merges.push([left, right]);
    for (const sequence of sequences) {
      const out = [];
      for (let i = 0; i < sequence.symbols.length; i++) {
        if (i + 1 < sequence.symbols.length && sequence.symbols[i] === left && sequence.symbols[i + 1] === right) { out.push(left + right); i++; }
        else out.push(sequence.symbols[i]);
      }
      sequence.symbols = out;
    }
  }
  return merges;
}

function countWords(pieces) {
  const words = new Map();
  for (const piece of pieces) words.set(piece, (words.get(piece) ?? 0) + 1);
  return words;
}

// Byte-level vocabulary: ids 0..255 are the bytes (in byte order), then each merge's result, then one token that no
// merge builds (reachable only through ignore_merges), then the added tokens.
function byteLevelModel() {
  const gpt2Js = /'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+/gu;
  const pieces = [...corpusText.matchAll(gpt2Js)].map(m => toAlphabet(m[0]));
  // Digit pieces also as groups of up to three, so that merges of two and three digits exist.
  for (const m of corpusText.matchAll(/\p{N}{1,3}/gu)) pieces.push(toAlphabet(m[0]));
  const merges = trainMerges(countWords(pieces), 420, () => true);
  const vocab = {};
  byteToChar.forEach((c, b) => { vocab[c] = b; });
  let next = 256;
  for (const [a, b] of merges) if (!(a + b in vocab)) vocab[a + b] = next++;
  vocab[toAlphabet(' zyxwv')] = next++;
  return { vocab, merges, next };
}

// SentencePiece-style vocabulary: <unk> <s> </s>, the 256 byte tokens <0x00>..<0xFF>, characters seen at least
// three times (not control characters: a newline is byte 0x0A), then merges trained on "▁word" pieces.
function sentencePieceModel() {
  const normalized = '▁' + corpusText.replaceAll(' ', '▁');
  const charCounts = new Map();
  for (const c of normalized) charCounts.set(c, (charCounts.get(c) ?? 0) + 1);
  const chars = [...charCounts].filter(([c, n]) => n >= 3 && c.codePointAt(0) >= 0x20)
    .sort((x, y) => y[1] - x[1] || (x[0] < y[0] ? -1 : 1)).map(([c]) => c);
  const known = new Set(chars);
  const pieces = normalized.split(/(?=▁)|\n/u).filter(p => p.length > 0);
  const merges = trainMerges(countWords(pieces), 300, s => [...s].every(c => known.has(c)));
  const vocab = { '<unk>': 0, '<s>': 1, '</s>': 2 };
  for (let b = 0; b < 256; b++) vocab[`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`] = 3 + b;
  let next = 259;
  for (const c of chars) vocab[c] = next++;
  for (const [a, b] of merges) if (!(a + b in vocab)) vocab[a + b] = next++;
  return { vocab, merges, next };
}

const added = (id, content, special, extra = {}) =>
  ({ id, content, single_word: false, lstrip: false, rstrip: false, normalized: !special, special, ...extra });
const byteLevel = (prefix, regex) => ({ type: 'ByteLevel', add_prefix_space: prefix, trim_offsets: true, use_regex: regex });
const split = pattern => ({ type: 'Split', pattern: { Regex: pattern }, behavior: 'Isolated', invert: false });
const bpe = (model, options) => ({
  type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: null, end_of_word_suffix: null,
  fuse_unk: false, byte_fallback: false, ignore_merges: false, ...options, vocab: model.vocab,
});
const mergeStrings = merges => merges.map(([a, b]) => `${a} ${b}`);
const template = (bos, bosId) => ({
  type: 'TemplateProcessing',
  single: [{ SpecialToken: { id: bos, type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }],
  pair: [{ SpecialToken: { id: bos, type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: bos, type_id: 1 } }, { Sequence: { id: 'B', type_id: 1 } }],
  special_tokens: { [bos]: { id: bos, ids: [bosId], tokens: [bos] } },
});

const LLAMA3 = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
const QWEN2 = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
const CHATML = "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}{{ '<|im_start|>system\\nYou are a helpful assistant.<|im_end|>\\n' }}{% endif %}"
  + "{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}{% endfor %}"
  + "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";
const CHATML_PLAIN = "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}"
  + "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";
const LLAMA3_CHAT = "{{ bos_token }}{% for message in messages %}{{ '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n' + message['content'] | trim + '<|eot_id|>' }}{% endfor %}"
  + "{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{% endif %}";

function tokenizerFiles() {
  const files = {};
  const bl = byteLevelModel();
  const endOfText = added(bl.next, '<|endoftext|>', true);
  const imStart = added(bl.next + 1, '<|im_start|>', true), imEnd = added(bl.next + 2, '<|im_end|>', true);

  files.gpt2 = {
    tokenizer: {
      version: '1.0', truncation: null, padding: null,
      added_tokens: [endOfText, added(bl.next + 1, '<mask>', true, { lstrip: true })],
      normalizer: null, pre_tokenizer: byteLevel(false, true), post_processor: byteLevel(false, true), decoder: byteLevel(true, true),
      model: bpe(bl, { continuing_subword_prefix: '', end_of_word_suffix: '', merges: mergeStrings(bl.merges) }),
    },
    config: { add_bos_token: false, bos_token: '<|endoftext|>', eos_token: '<|endoftext|>', unk_token: '<|endoftext|>', model_max_length: 1024 },
  };

  const begin = added(bl.next, '<|begin_of_text|>', true), end = added(bl.next + 1, '<|end_of_text|>', true);
  const header = [added(bl.next + 2, '<|start_header_id|>', true), added(bl.next + 3, '<|end_header_id|>', true), added(bl.next + 4, '<|eot_id|>', true)];
  files.llama3 = {
    tokenizer: {
      version: '1.0', truncation: null, padding: null,
      added_tokens: [begin, end, ...header],
      normalizer: null,
      pre_tokenizer: { type: 'Sequence', pretokenizers: [split(LLAMA3), byteLevel(false, false)] },
      post_processor: { type: 'Sequence', processors: [byteLevel(true, false), template('<|begin_of_text|>', begin.id)] },
      decoder: byteLevel(true, true),
      model: bpe(bl, { ignore_merges: true, merges: bl.merges }),
    },
    config: { bos_token: '<|begin_of_text|>', eos_token: '<|eot_id|>', chat_template: LLAMA3_CHAT, model_max_length: 131072 },
  };

  files.qwen2 = {
    tokenizer: {
      version: '1.0', truncation: null, padding: null,
      added_tokens: [endOfText, imStart, imEnd, added(bl.next + 3, '<think>', false), added(bl.next + 4, '</think>', false)],
      normalizer: { type: 'NFC' },
      pre_tokenizer: { type: 'Sequence', pretokenizers: [split(QWEN2), byteLevel(false, false)] },
      post_processor: byteLevel(false, false), decoder: byteLevel(false, false),
      model: bpe(bl, { merges: mergeStrings(bl.merges) }),
    },
    config: { add_bos_token: false, add_prefix_space: false, bos_token: null, eos_token: '<|im_end|>', pad_token: '<|endoftext|>', chat_template: CHATML },
  };

  files.smollm = {
    tokenizer: {
      version: '1.0', truncation: null, padding: null,
      added_tokens: [endOfText, imStart, imEnd],
      normalizer: null,
      pre_tokenizer: { type: 'Sequence', pretokenizers: [{ type: 'Digits', individual_digits: true }, byteLevel(false, true)] },
      post_processor: byteLevel(false, true), decoder: byteLevel(true, true),
      model: bpe(bl, { merges: mergeStrings(bl.merges) }),
    },
    config: { bos_token: '<|im_start|>', eos_token: '<|im_end|>', chat_template: CHATML_PLAIN },
  };

  const sp = sentencePieceModel();
  const spAdded = [added(0, '<unk>', true), added(1, '<s>', true), added(2, '</s>', true)];
  spAdded.forEach(t => { t.normalized = false; });
  const spModel = bpe(sp, { unk_token: '<unk>', fuse_unk: true, byte_fallback: true, merges: mergeStrings(sp.merges) });
  files.tinyllama = {
    tokenizer: {
      version: '1.0', truncation: null, padding: null, added_tokens: spAdded,
      normalizer: { type: 'Sequence', normalizers: [{ type: 'Prepend', prepend: '▁' }, { type: 'Replace', pattern: { String: ' ' }, content: '▁' }] },
      pre_tokenizer: null,
      post_processor: template('<s>', 1),
      decoder: { type: 'Sequence', decoders: [{ type: 'Replace', pattern: { String: '▁' }, content: ' ' }, { type: 'ByteFallback' }, { type: 'Fuse' }, { type: 'Strip', content: ' ', start: 1, stop: 0 }] },
      model: spModel,
    },
    config: { add_bos_token: true, add_eos_token: false, bos_token: '<s>', eos_token: '</s>', unk_token: '<unk>', legacy: false },
  };

  files.metaspace = {
    tokenizer: {
      version: '1.0', truncation: null, padding: null, added_tokens: spAdded,
      normalizer: null,
      pre_tokenizer: { type: 'Metaspace', replacement: '▁', prepend_scheme: 'first', split: false },
      post_processor: template('<s>', 1),
      decoder: { type: 'Sequence', decoders: [{ type: 'ByteFallback' }, { type: 'Metaspace', replacement: '▁', prepend_scheme: 'first', split: false }] },
      model: { ...spModel, merges: sp.merges },
    },
    config: { add_bos_token: true, bos_token: '<s>', eos_token: '</s>', unk_token: '<unk>' },
  };
  return files;
}

// ---- Cases. ----
const code = 'def mean(values):\n    """Average."""\n\tif not values:\n        return 0.0  # tab\n    return sum(values) / len(values)\n\n\n';
const prose = corpus[0] + ' ' + corpus[3] + ' ' + corpus[4];
const fixed = [
  '', 'Hello, world!', 'Hello world', 'the ledger', ' the', 'The', 'counting numbers',
  "it's", "It's", "IT'S", "he'S", "we're", "They've", "I'M", "you'll", "she'd", "don't", "'s", "'''s", " 's", "'Ll", 'it\u2019s',
  ' ', '  ', '   ', '   hello', 'a  b', 'a   b', 'trailing ', 'trailing   ', '  both  ',
  '\t', '\t\t', 'a\tb', 'a \tb', '\n', '\n\n', '\n\n\n', 'line\n', 'line\n\n\nnext', 'a\r\nb', ' \n ', '\n \n', 'x \n\n  y', 'end  \n', 'a.\n\nb', '!!\n\n',
  '0', '7', '42', '123', '1234', '12345', '1234567', '123456789', ' 2024', '2024-01-01', 'abc123def', 'pi is 3.14159', '1,000,000', '007', 'x1y22z333',
  '١٢٣٤٥ Arabic-Indic', 'Ⅻ roman', '²³ superscripts',
  'café', 'cafe\u0301', 'naïve crème brûlée', 'n\u0303o\u0308', 'Ångström', 'ﬁne ligature',
  'Привет, мир!', 'Γειά σου Κόσμε', 'مرحبا بالعالم', 'שלום עולם', 'नमस्ते', '你好，世界', '日本語のテキストです。', '한국어',
  '😀', '😀😀', ' 😀', 'hi😀there', '👨\u200d👩\u200d👧', '🇫🇷', '❤️',
  '𠀀𠀁 CJK ext B', ' 𠀀', 'a𠀀b', '𝐀𝐁𝐂 math bold', '𝟙𝟚𝟛 math digits', '𝟙2𝟚3',
  '\u00a0nbsp\u00a0', 'em\u2003space', 'ideographic\u3000space', 'line\u2028sep', 'zero\u200bwidth',
  '!!!', '...', '—', '--->', '(a)', '[1, 2, 3]', '{"key": "value"}', '<html><b>hi</b></html>', '@#$%^&*()', 'e.g. http://example.com/a?b=c',
  'the zyxwv word', ' zyxwv', 'zyxwv',
  '<|endoftext|>', 'text<|endoftext|>more text', ' <|endoftext|> ', '<|endoftext|><|endoftext|>', '<|endoftext',
  '<|im_start|>user\nHello there<|im_end|>\n<|im_start|>assistant\n', ' <|im_end|> ', '<|im_start|><|im_end|>',
  '<s>hello</s>', 'a<s>b', '<s> spaced </s>', '</s>', '<unk>',
  '<|begin_of_text|>hi', 'hi<|eot_id|>', '<|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>',
  '<think>\nhmm\n</think>\n\nok', 'a<think>b',
  'fill <mask> here', 'fill    <mask>', '<mask>',
  code, prose,
];

// Seeded strings mixing the classes the patterns distinguish (mulberry32).
function random(seed) {
  return () => {
    seed |= 0; seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const fragments = [' ', '  ', '\t', '\n', '\r\n', '\u00a0', "'", "'s", "'LL", 'a', 'Z', 'the', ' the', 'ledger', '0', '12', '345',
  '٣', '!', '...', '-', 'é', 'e\u0301', 'ß', 'Ж', '中', '𠀀', '𝟙', '😀', '<|endoftext|>', '<|im_start|>', '<s>', '▁', 'Ġ'];
const next = random(20251206);
const randomCases = [];
for (let i = 0; i < 60; i++) {
  let text = '';
  const parts = 1 + Math.floor(next() * 12);
  for (let j = 0; j < parts; j++) text += fragments[Math.floor(next() * fragments.length)];
  randomCases.push(text);
}
const texts = [...fixed, ...randomCases];

// ---- Run both references. ----
// Each tokenizer's entry i is for texts[i]: ids without the post-processor; idsWithSpecial only where the
// post-processor adds tokens; decoded (of idsWithSpecial, keeping special tokens) only where it is not the text;
// decodedSkippingSpecial only where it differs from decoded.
const files = tokenizerFiles();
const disagreements = [];
const results = {};
for (const [name, { tokenizer: json, config }] of Object.entries(files)) {
  const dir = join(outDir, name);
  mkdirSync(dir, { recursive: true });
  const text = JSON.stringify(json, null, 1);
  writeFileSync(join(dir, 'tokenizer.json'), text + '\n');
  writeFileSync(join(dir, 'tokenizer_config.json'), JSON.stringify(config, null, 2) + '\n');
  const reference = rust.Tokenizer.fromString(text);
  const js = new JsTokenizer(json, config);
  results[name] = [];
  for (const input of texts) {
    const found = {};
    for (const add of [false, true]) {
      const ids = (await reference.encode(input, null, { addSpecialTokens: add })).getIds();
      const jsIds = js.encode(input, { add_special_tokens: add }).ids;
      if (JSON.stringify(ids) !== JSON.stringify(jsIds)) disagreements.push({ tokenizer: name, text: input, addSpecialTokens: add, rust: ids, js: jsIds });
      found[add] = ids;
    }
    const entry = { ids: found[false] };
    if (JSON.stringify(found[true]) !== JSON.stringify(found[false])) entry.idsWithSpecial = found[true];
    const decoded = {};
    for (const skip of [false, true]) {
      decoded[skip] = await reference.decode(found[true], skip);
      // The JavaScript decode refuses an empty list; Rust gives "".
      const jsText = found[true].length === 0 ? '' : js.decode(found[true], { skip_special_tokens: skip, clean_up_tokenization_spaces: false });
      if (jsText !== decoded[skip]) disagreements.push({ tokenizer: name, text: input, skipSpecialTokens: skip, rust: decoded[skip], js: jsText });
    }
    if (decoded[false] !== input) entry.decoded = decoded[false];
    if (decoded[true] !== decoded[false]) entry.decodedSkippingSpecial = decoded[true];
    results[name].push(entry);
  }
}
// Id lists that are not the encoding of any text: a multi-byte character cut short (invalid UTF-8 for the
// decoders), a special token beside it, and ids in reverse order.
const decodeCases = {};
for (const [name, { tokenizer: json }] of Object.entries(files)) {
  const reference = rust.Tokenizer.fromString(JSON.stringify(json));
  const emoji = (await reference.encode('😀', null, { addSpecialTokens: false })).getIds();
  const mixed = (await reference.encode('hi 😀 there 한국어', null, { addSpecialTokens: false })).getIds();
  const special = (await reference.encode('<|endoftext|><s>', null, { addSpecialTokens: true })).getIds();
  const lists = [emoji.slice(0, -1), emoji.slice(1), [...emoji.slice(0, 2), ...special, ...emoji.slice(2)],
    mixed.filter((_, i) => i % 3 !== 1), [...mixed].reverse()];
  decodeCases[name] = [];
  for (const ids of lists) {
    const entry = { ids, decoded: await reference.decode(ids, false), decodedSkippingSpecial: await reference.decode(ids, true) };
    const jsTexts = ids.length === 0 ? ['', ''] : [false, true].map(skip => js_decode(json, ids, skip));
    if (jsTexts[0] !== entry.decoded || jsTexts[1] !== entry.decodedSkippingSpecial)
      disagreements.push({ tokenizer: name, decodeIds: ids, rust: [entry.decoded, entry.decodedSkippingSpecial], js: jsTexts });
    decodeCases[name].push(entry);
  }
}
function js_decode(json, ids, skip) {
  return new JsTokenizer(json, files[Object.keys(files).find(k => files[k].tokenizer === json)].config)
    .decode(ids, { skip_special_tokens: skip, clean_up_tokenization_spaces: false });
}

writeFileSync(join(outDir, 'cases.json'), JSON.stringify({
  generator: 'tools/reference/hf_tokenizer_fixture.mjs (tokenizers 0.23.2 Rust binding; @huggingface/tokenizers 0.2.0)',
  disagreements, texts, results, decodeCases,
}) + '\n');

// ---- Chat templates rendered by @huggingface/jinja. ----
const conversations = [
  [{ role: 'user', content: 'Hello!' }],
  [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'What is 2+2?' }],
  [{ role: 'user', content: 'Hi' }, { role: 'assistant', content: 'Hello! How can I help?' }, { role: 'user', content: 'Tell me a joke.\nA short one.' }],
];
const chat = [];
for (const name of ['qwen2', 'smollm']) {
  const { chat_template: source } = files[name].config;
  for (const messages of conversations)
    for (const addGenerationPrompt of [true, false])
      chat.push({ tokenizer: name, messages, addGenerationPrompt,
        text: new Template(source).render({ messages, add_generation_prompt: addGenerationPrompt, bos_token: '', eos_token: '<|im_end|>' }) });
}
writeFileSync(join(outDir, 'chat.json'), JSON.stringify({ generator: 'tools/reference/hf_tokenizer_fixture.mjs (@huggingface/jinja 0.5.11)', chat }, null, 1) + '\n');

console.error(`wrote ${Object.keys(files).length} tokenizers x ${texts.length} cases to ${outDir}; ${disagreements.length} disagreements`);
for (const d of disagreements.slice(0, 40)) console.error(JSON.stringify(d));
