// SPDX-License-Identifier: MIT
// The stress set of the tokenizer golden test: each case has a unique name and either `text`
// (a JS string, written as UTF-8) or `hex` (raw bytes, for ill-formed UTF-8).
// Characters are written as \u escapes where they are invisible or easily confused.
export const STRESS_CASES = [
  // ---- basics
  { name: "empty", text: "" },
  { name: "single letter", text: "a" },
  { name: "single space", text: " " },
  { name: "single newline", text: "\n" },
  { name: "hello world", text: "Hello world" },
  { name: "sentence", text: "The quick brown fox jumps over the lazy dog." },

  // ---- contractions: lowercase only in GPT-2's pattern
  { name: "contractions lowercase", text: "I'm sure you'll see they've gone; it's John's, we'd go, you're late, don't." },
  { name: "contractions uppercase", text: "I'M SURE YOU'LL SEE THEY'VE GONE; IT'S JOHN'S, WE'D GO, YOU'RE LATE, DON'T." },
  { name: "contractions mixed case", text: "'S 'T 'Re 'rE 'LL 'lL 'Ll 'D 'M 'VE 'Ve" },
  { name: "contraction at start", text: "'s a start" },
  { name: "contraction after space", text: "a 's b 't c 'll" },
  { name: "apostrophes", text: "'' ''s 's's's ' x' 'x rock'n'roll '''" },
  { name: "contraction then letters", text: "'sabc 'tis 'llama 'dog 'mom 'reef 'vex" },
  { name: "typographic apostrophe", text: "don\u2019t it\u2019s \u2018quoted\u2019" },
  { name: "punctuation then contraction", text: "Hello!'s (x)'ll ?'d" },

  // ---- whitespace runs and the \s+(?!\S) rule
  { name: "runs of spaces", text: "a  b   c    d     e" },
  { name: "leading spaces", text: "   leading" },
  { name: "trailing spaces", text: "trailing   " },
  { name: "only spaces", text: "     " },
  { name: "tabs", text: "a\tb\t\tc\t\t\td\t" },
  { name: "newlines", text: "line1\nline2\n\nline3\n\n\nline4\n" },
  { name: "mixed whitespace", text: "a \t\n b\n \n c \n\t d" },
  { name: "crlf", text: "first\r\nsecond\r\n\r\nthird\r\n" },
  { name: "whitespace before punctuation", text: "a  . b \n! c\t\t?" },
  { name: "whitespace before digits", text: "year 2024  and   42\n\n7" },
  { name: "trailing mixed whitespace", text: "end x \n \t" },
  { name: "vertical tab and form feed", text: "a\u000bb\u000c c\u000b\u000b d" },
  { name: "indented code", text: "def f(x):\n    if x:\n        return x**2  # square\n    return 0\n" },

  // ---- Unicode whitespace where JavaScript's \s differs from Python's
  { name: "U+0085 next line", text: "a\u0085b \u0085c\u0085\u0085d \u0085" },
  { name: "U+0085 runs", text: "x\u0085\u0085\u0085 y \u0085 \u0085z" },
  { name: "U+00A0 no-break space", text: "100\u00a0km a\u00a0\u00a0b c \u00a0d\u00a0" },
  { name: "U+FEFF byte order mark", text: "\ufeffstart a\ufeffb c \ufeff d\ufeff\ufeff" },
  { name: "U+3000 ideographic space", text: "\u65e5\u672c\u3000\u8a9e a\u3000\u3000b \u3000" },
  { name: "other White_Space", text: "a\u1680b\u2000c\u2003d\u200ae\u2028f\u2029g\u202fh\u205fi" },
  { name: "not White_Space", text: "a\u200bb\u180ec\u001cd\u001fe \u200b f\u2060g" },
  { name: "unicode whitespace run before letter", text: "x\u00a0\u3000\u2003y \u0085\u00a0 z" },

  // ---- letters, numbers, marks in many scripts
  { name: "CJK", text: "\u3053\u3093\u306b\u3061\u306f\u4e16\u754c\u3002\u4e2d\u6587\u6d4b\u8bd5\uff0c\u6807\u70b9\u3002" },
  { name: "Korean", text: "\uc548\ub155\ud558\uc138\uc694 \uc138\uacc4" },
  { name: "Greek and Cyrillic", text: "\u0395\u03bb\u03bb\u03b7\u03bd\u03b9\u03ba\u03ac \u0420\u0443\u0441\u0441\u043a\u0438\u0439 \u044f\u0437\u044b\u043a" },
  { name: "Arabic and Hebrew", text: "\u0645\u0631\u062d\u0628\u0627 \u0628\u0627\u0644\u0639\u0627\u0644\u0645 \u05e9\u05b8\u05c1\u05dc\u05d5\u05b9\u05dd" },
  { name: "Devanagari and Thai", text: "\u0928\u092e\u0938\u094d\u0924\u0947 \u0e2a\u0e27\u0e31\u0e2a\u0e14\u0e35\u0e04\u0e23\u0e31\u0e1a" },
  { name: "combining marks", text: "e\u0301cole cafe\u0301 n\u0303 a\u0308\u0304 \u0301alone" },
  { name: "zalgo", text: "z\u0337\u0322a\u0336l\u0338g\u0335o\u0334 text" },
  { name: "precomposed accents", text: "\u00e9cole na\u00efve fa\u00e7ade \u00c5ngstr\u00f6m" },
  { name: "mixed scripts in one word", text: "abc\u0430\u0431\u0432\u03b1\u03b2\u03b3def" },
  { name: "digits mixed with letters", text: "abc123def 4ever x2y3 1st 2nd 3rd B2B mp3 h264" },
  { name: "long number", text: "12345678901234567890 3.14159, 1,000,000 and 1e-10" },
  { name: "other numbers", text: "\u0663\u0664\u0665 \u0969\u096a\u096b \u00bd \u00b2 \u216b \u2460 x\u00b2" },
  { name: "astral letters and digits", text: "\ud835\udd18\ud835\udd2b\ud835\udd26 \ud835\udfd8\ud835\udfd9\ud835\udfda" },
  { name: "byte-level alphabet characters", text: "\u0120\u010a \u0120the \u0100\u0143" },
  { name: "private use", text: "a\ue000b \uf8ff" },

  // ---- symbols, punctuation, emoji
  { name: "punctuation runs", text: "!!! ??? ... --- *** ### Hello!!!How??Now...ok" },
  { name: "space then punctuation", text: " (hello) -x [y] {z} \"q\"" },
  { name: "url and email", text: "https://example.com/path?q=1&b=2#frag user.name+tag@example.co.uk" },
  { name: "json", text: "{\"chosen\": \"yes\", \"n\": [1, 2, 3], \"ok\": true}" },
  { name: "markdown", text: "# Title\n\n* item one\n* item two\n\n```cpp\nint x = 0;\n```\n" },
  { name: "math", text: "\u2211_{i=1}^{n} x\u00b2 \u2264 \u221e \u2248 \u03c0 a\u22c5b" },
  { name: "currency", text: "$100 \u20ac50 \u00a51000 \u00a320 \u20b9 5" },
  { name: "quotes", text: "\u201csmart\u201d \u2018quotes\u2019 \u00abguillemets\u00bb \u300c\u62ec\u5f27\u300d" },
  { name: "emoji", text: "I \u2764\ufe0f \ud83c\udf55! \ud83d\ude00\ud83d\ude00 ok\ud83d\udc4d" },
  { name: "emoji skin tone", text: "\ud83d\udc4d\ud83c\udffd \ud83d\udc4b\ud83c\udfff" },
  { name: "emoji ZWJ family", text: "\ud83d\udc68\u200d\ud83d\udc69\u200d\ud83d\udc67\u200d\ud83d\udc66 family" },
  { name: "emoji ZWJ rainbow flag", text: "\ud83c\udff3\ufe0f\u200d\ud83c\udf08 and \ud83c\uddef\ud83c\uddf5\ud83c\uddfa\ud83c\uddf8" },
  { name: "control characters", text: "a\u0000b\u0001c\u007fd \u0000 \u001b[0m" },

  // ---- <|endoftext|>
  { name: "endoftext inside text", text: "Hello<|endoftext|>World" },
  { name: "endoftext at both ends", text: "<|endoftext|>middle<|endoftext|>" },
  { name: "endoftext repeated", text: "<|endoftext|><|endoftext|><|endoftext|>" },
  { name: "endoftext with spaces", text: "a <|endoftext|> b\n<|endoftext|>\n" },
  { name: "endoftext partial", text: "<|endoftext| <|endoftext|>> <|endoftext <endoftext|> <||endoftext|>" },
  { name: "endoftext seed completion", text: "Let me explain. It is a field of computer science.<|endoftext|>" },

  // ---- texts like the seed's
  { name: "hh-rlhf dialogue", text: "\n\nHuman: What is AI?\n\nAssistant: Let me explain. AI is..." },
  { name: "seed prompt", text: "### Question: What is AI?\n### Answer: " },

  // ---- long pieces (prefopt merges these with its heap algorithm)
  { name: "long letter run", text: "a".repeat(300) },
  { name: "long alternating run", text: "ab".repeat(150) + " " + "abc".repeat(100) },
  { name: "long word", text: "Pneumonoultramicroscopicsilicovolcanoconiosis".repeat(4) },
  { name: "long space run", text: " ".repeat(200) + "x" + " ".repeat(100) },
  { name: "long newline run", text: "x" + "\n".repeat(150) + "y" },
  { name: "long punctuation run", text: "=".repeat(120) + " " + "-".repeat(80) + "!?".repeat(40) },
  { name: "long digit run", text: "9".repeat(150) + " " + "0123456789".repeat(15) },
  { name: "long CJK run", text: "\u65e5\u672c\u8a9e".repeat(40) },

  // ---- ill-formed UTF-8 (one U+FFFD per maximal subpart)
  { name: "invalid lone 0xFF", hex: "ff" },
  { name: "invalid continuation in ascii", hex: "61626380646566" },
  { name: "invalid truncated 2-byte", hex: "c328" },
  { name: "invalid truncated 3-byte", hex: "e28228" },
  { name: "invalid truncated emoji at end", hex: "6869f09f98" },
  { name: "invalid surrogate", hex: "61eda08062" },
  { name: "invalid overlong", hex: "c0af20e080af" },
  { name: "invalid above U+10FFFF", hex: "f490808020f5" },
  { name: "invalid 5-byte form", hex: "f888808080" },
  { name: "invalid Unicode table 3-8", hex: "61f18080e180c2628063 80bf64".replace(" ", "") },
  { name: "invalid latin-1 word", hex: "636166e920617520 6c616974".replace(" ", "") },
  { name: "invalid next to endoftext", hex: "ff3c7c656e646f66746578747c3ec3" },
  { name: "invalid inside whitespace run", hex: "612020ff2020620a80" },
  { name: "invalid random bytes", hex: "8f3bd1c00a7ee9ff4120fe20c2a0c2" },
];
