// Writes the reference token ids for chapter 01's tests, from OpenAI's tiktoken (npm package
// `tiktoken`, its `gpt2` encoding; the WebAssembly build of the Rust code that OpenAI uses).
//
//   cd tests/reference && npm install && node 01_tokenizer_fixtures.js
//
// Output (committed, so the tests need no node):
//   tests/fixtures/01_tokenizer_strings.json      hand-picked and random strings with their ids
//   tests/fixtures/01_tokenizer_shakespeare.u16   ids of data/tinyshakespeare.txt, uint16 little-endian
//
// `encode_ordinary` treats "<|endoftext|>" as plain text (our default); the "special" cases use
// `encode(text, "all")`, which maps the literal to id 50256 (our allow_special option).
"use strict";
const fs = require("fs");
const path = require("path");
const { get_encoding } = require("tiktoken");

const enc = get_encoding("gpt2");
const root = path.resolve(__dirname, "..", "..");
const fixtures = path.join(root, "tests", "fixtures");

// ---- hand-picked strings: each one probes a rule of the pre-tokenizer or of the merges ----
const cases = [];
const add = (s) => cases.push(s);

// Contractions, lower and upper case, at the start, in the middle and after spaces.
for (const c of ["s", "t", "re", "ve", "m", "ll", "d"]) {
  add(`it'${c}`);
  add(`IT'${c.toUpperCase()}`);
  add(`'${c}`);
  add(` '${c}x`);
}
add("don't can't won't shouldn't y'all");
add("I'M YOU'RE WE'VE SHE'LL HE'D IT'S");
add("''s '''t 'x 'S 'st");
add("rock 'n' roll");
add("’s curly apostrophe’s");
// White space: runs, tabs, newlines, \r\n, trailing and leading, unusual Unicode white space.
add("a b");
add("a  b");
add("a   b");
add("a \tb");
add("a\t b");
add("a\t\tb");
add("line1\nline2");
add("line1\n\nline2");
add("line1\r\nline2\r\n");
add("para\n\n\n\nnext");
add("trailing space ");
add("trailing spaces   ");
add("trailing newline\n");
add("trailing mix \n\t ");
add("   leading spaces");
add("\n\nleading newlines");
add(" ");
add("  ");
add("\n");
add("\t");
add("\r\n");
add(" \n \n ");
add("x \u0085y");
add("x\u0085 y");
add("x\u00a0y \u00a0 z");
add("x\u2028y\u2029z");
add("x\u3000y\u3000\u3000z");
add("x\ufeffy \ufeff z");
add("x\u200by\u200c\u200dz");
add("x\u000by\u000cz\u001cw\u001f");
add("x\u1680y\u2000z\u200aw\u202fv\u205fu");
add("end with nbsp\u00a0");
// Numbers.
for (const n of ["0", "7", "42", "123", "1234", "12345", "123456789", "3.14159", "1,000,000", "-17", "+1e-9",
                 "2024-06-01", "0x1F", "007", "99.99%", "１２３", "٣٤٥", "४२", "Ⅻ ⅻ", "½ ¾ ²³", "⑦⑧"]) {
  add(n);
  add(`n=${n} `);
}
add("x1y22z333");
add("abc123def");
add("1 2 3 4 5 6 7 8 9 10");
// Punctuation runs.
add("Hello, world!");
add("What?!?! Really...");
add("--- *** ### !!!");
add("(a) [b] {c} <d>");
add("a.b,c;d:e");
add("««quoted»» „low” ‘single’");
add("…—–");
add("$100 €50 £20 ¥1000");
add("@user #tag &amp; %20");
add("<|endoftext|>");
add("text<|endoftext|>more");
add("<|endoftext|> <|endoftext|>");
// Letters of many scripts, marks and emoji.
add("Привет, мир! Как дела?");
add("Γειά σου Κόσμε");
add("שלום עולם");
add("مرحبا بالعالم");
add("नमस्ते दुनिया");
add("こんにちは世界");
add("你好，世界。");
add("안녕하세요 세계");
add("สวัสดีชาวโลก");
add("ሰላም ልዑል");
add("Ꭰ Ꭱ Ꭲ");
add("ğüşöçİı Straße ÆØÅ æøå");
add("e\u0301 a\u0300 n\u0303 (combining)");
add("Z\u0351\u036b\u0343\u036a\u0302\u036b\u033d\u034f\u0334\u0319\u0324\u031e\u0349\u035a\u032f\u031e\u0320\u034dalgo");
add("\u0915\u094d\u0937 \u0915\u093f");
add("ǅungla ǈ ǋ");
add("ʰʲ ˢ ᵃ");
add("😀");
add("😀😃😄");
add("hello 😀 world");
add("👍🏽");
add("👨‍👩‍👧‍👦 family");
add("🏳️‍🌈 flag");
add("🇩🇪🇫🇷");
add("❤️ ☺ ✓ ✗");
add("1️⃣ #️⃣");
add("𝔘𝔫𝔦𝔠𝔬𝔡𝔢 𝐁𝐨𝐥𝐝");
add("🀄🃏");
add("ǂǃ ǀ");
// Code, URLs, markup.
add("int main() { return 0; }");
add("for (int i = 0; i < n; ++i) {\n    x[i] += y[i];\n}\n");
add("def f(x):\n\treturn x ** 2  # square\n");
add("    indented by four\n        and eight");
add("if (a && b || !c) { a->b = c::d; }");
add("https://www.example.com/path?query=1&x=y#frag");
add("mailto:someone@example.org");
add("C:\\Windows\\System32\\cmd.exe");
add("<html><body class=\"x\">Hi</body></html>");
add("{\"key\": [1, 2.5, null, true]}");
add("SELECT * FROM t WHERE id = 42;");
add("$ ls -la | grep \"foo\" > out.txt 2>&1");
add("// comment\n/* block */\n");
add("camelCaseIdentifier snake_case_name SCREAMING_CASE");
// Long words and repeated characters.
add("a".repeat(100));
add("ab".repeat(100));
add(" " + "z".repeat(300));
add("!".repeat(64));
add("=".repeat(200));
add(" ".repeat(50));
add("\n".repeat(20));
add("9".repeat(40));
add("😀".repeat(20));
add("Pneumonoultramicroscopicsilicovolcanoconiosis");
add("Supercalifragilisticexpialidocious antidisestablishmentarianism");
add("Donaudampfschifffahrtselektrizitätenhauptbetriebswerkbauunterbeamtengesellschaft");
add("x".repeat(1000) + "y");
// Ordinary prose.
add("The quick brown fox jumps over the lazy dog.");
add("To be, or not to be, that is the question:");
add("First Citizen:\nBefore we proceed any further, hear me speak.\n");
add("GPT-2 is a large transformer-based language model with 1.5 billion parameters.");
add("Mixed: English, Русский, 中文, العربية, हिन्दी — all in one line! 123");
add("");

// ---- random strings from a pool of interesting code points, with a fixed seed ----
function mulberry32(a) {
  return function () {
    a |= 0;
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const rand = mulberry32(20240601);
const pool = Array.from(
  " \t\n\r\u000b\u000c\u0085\u00a0\u1680\u2003\u2028\u3000\ufeff\u200b" + // white space and look-alikes
  "aAzZ'sStTrReEvVmMlLdD" +                                                  // contraction material
  "0123456789٣४１Ⅻ½²" +                                                      // numbers
  ".,;:!?-_()[]{}<>|/\\\"#$%&*+=@^`~«»…—" +                                   // punctuation
  "éßøŁжЖλΩשمक़ि्あア漢字한ก" +                                                 // letters and marks
  "\u0301\u0308\u093f\u0e31" +                                               // combining marks
  "😀👍🏽\u200d🇩🇪❤️"                                                         // emoji pieces
);
const random_cases = [];
for (let i = 0; i < 200; i++) {
  const n = 1 + Math.floor(rand() * 30);
  let s = "";
  for (let j = 0; j < n; j++) s += pool[Math.floor(rand() * pool.length)];
  random_cases.push(s);
}

const out = { source: "tiktoken (npm) " + JSON.parse(fs.readFileSync(path.join(__dirname, "node_modules", "tiktoken", "package.json"), "utf8")).version + ", gpt2 encoding, encode_ordinary",
              cases: [], special_cases: [] };
for (const s of cases.concat(random_cases)) out.cases.push({ text: s, ids: Array.from(enc.encode_ordinary(s)) });
for (const s of ["<|endoftext|>", "text<|endoftext|>more", "a <|endoftext|>\nb<|endoftext|><|endoftext|>", "<|endoftext|> x",
                 "<|endoftext", "no special here"]) {
  out.special_cases.push({ text: s, ids: Array.from(enc.encode(s, "all")) });
}
fs.writeFileSync(path.join(fixtures, "01_tokenizer_strings.json"), JSON.stringify(out, null, 0).replace(/\},\{/g, "},\n{") + "\n");

// ---- all of tiny Shakespeare ----
const text = fs.readFileSync(path.join(root, "data", "tinyshakespeare.txt"), "utf8");
const ids = enc.encode_ordinary(text);
const u16 = new Uint16Array(ids.length);
for (let i = 0; i < ids.length; i++) u16[i] = ids[i];
fs.writeFileSync(path.join(fixtures, "01_tokenizer_shakespeare.u16"), Buffer.from(u16.buffer));
console.log(`${out.cases.length} strings, ${out.special_cases.length} special cases, shakespeare ${ids.length} tokens`);
enc.free();
