//! Where minijinja's expressions would quietly mean something else than the Python that
//! nn-experiments evaluates: `-x ** 2` and `a ** b ** c` group differently (refused), and
//! `<`, `<=`, `>`, `>=` order a number and a text without complaint (made to raise, as in
//! Python). Both work on the token stream, written by hand: minijinja's parser does not
//! expose a syntax tree with reliable source spans.

use minijinja::value::{Value as Jinja, ValueKind};

/// The expression function every ordering comparison becomes (`ORDERED(a, '<', b)`).
pub const ORDERED: &str = "__python_ordered";

/// `left op right` for `op` in `<`, `<=`, `>`, `>=`, refusing what Python refuses: ordering
/// values of different types (numbers and booleans count as one type).
pub fn ordered(left: &Jinja, op: &str, right: &Jinja) -> Result<bool, minijinja::Error> {
    use ValueKind::{Bool, Number, Seq, String};
    let same_type =
        matches!((left.kind(), right.kind()), (Number | Bool, Number | Bool) | (String, String) | (Seq, Seq));
    let refused =
        |why: std::string::String| minijinja::Error::new(minijinja::ErrorKind::InvalidOperation, why);
    if !same_type {
        return Err(refused(format!(
            "`{op}` between {} {} and {} {}: Python refuses to order values of different types",
            left.kind(),
            shown(left),
            right.kind(),
            shown(right)
        )));
    }
    // Python's booleans are the numbers 0 and 1; minijinja orders them apart from numbers.
    let as_number = |v: &Jinja| if v.kind() == Bool { Jinja::from(u8::from(v.is_true())) } else { v.clone() };
    let (left, right) = (&as_number(left), &as_number(right));
    match op {
        "<" => Ok(left < right),
        "<=" => Ok(left <= right),
        ">" => Ok(left > right),
        ">=" => Ok(left >= right),
        other => Err(refused(format!("`{other}` is not an ordering comparison"))),
    }
}

/// A value as the expression would write it: texts quoted.
fn shown(value: &Jinja) -> String {
    match value.as_str() {
        Some(text) => format!("'{text}'"),
        None => value.to_string(),
    }
}

/// `source` with every ordering comparison as a call of [`ORDERED`]; a chain `a < b == c`
/// becomes `(ORDERED(a, '<', b) and (b == c))`, as Python reads it. Without an ordering
/// comparison, `source` itself.
pub fn with_python_ordering(source: &str) -> String {
    let tokens = tokens(source);
    if !tokens.iter().any(|t| is_ordering(t.text)) {
        return source.to_string();
    }
    Rewrite { source, tokens: &tokens }.expression(0, tokens.len())
}

/// The rewrite of one expression's tokens; ranges are token indices, groups balanced.
struct Rewrite<'a> {
    source: &'a str,
    tokens: &'a [Token<'a>],
}

impl Rewrite<'_> {
    /// Tokens `lo..hi`: the comparison chains between the operators that bind more loosely
    /// than comparisons (`and`, `or`, `not`, `if`, `else`, `,`, `:`), joined by them.
    fn expression(&self, lo: usize, hi: usize) -> String {
        let mut out = String::new();
        let mut push = |piece: &str| {
            if !out.is_empty() && !piece.is_empty() && !matches!(piece, "," | ":") {
                out.push(' ');
            }
            out.push_str(piece);
        };
        let mut start = lo;
        let mut i = lo;
        while i < hi {
            if self.binds_looser_than_comparison(i) {
                push(&self.chain(start, i));
                push(self.tokens[i].text);
                start = i + 1;
                i += 1;
            } else {
                i = self.after(i);
            }
        }
        push(&self.chain(start, hi));
        out
    }

    /// Tokens `lo..hi` with no looser operator at their level: operands joined by comparisons.
    fn chain(&self, lo: usize, hi: usize) -> String {
        let mut operands = vec![lo];
        let mut operators = Vec::new();
        let mut i = lo;
        while i < hi {
            if is_comparison(self.tokens, i) {
                let width = if self.tokens[i].text == "not" { 2 } else { 1 };
                operators.push(i);
                operands.push(i + width);
                i += width;
            } else {
                i = self.after(i);
            }
        }
        if !operators.iter().any(|&op| is_ordering(self.tokens[op].text)) {
            return self.verbatim(lo, hi);
        }
        let ends = operators.iter().copied().chain([hi]);
        let texts: Vec<String> = operands.iter().zip(ends).map(|(&a, b)| self.verbatim(a, b)).collect();
        let links: Vec<String> = operators
            .iter()
            .enumerate()
            .map(|(k, &op)| {
                let (left, right) = (&texts[k], &texts[k + 1]);
                match self.tokens[op].text {
                    ordering if is_ordering(ordering) => format!("{ORDERED}({left}, '{ordering}', {right})"),
                    "not" => format!("({left} not in {right})"),
                    other => format!("({left} {other} {right})"),
                }
            })
            .collect();
        format!("({})", links.join(" and "))
    }

    /// The source of tokens `lo..hi`, each bracketed group's inside rewritten.
    fn verbatim(&self, lo: usize, hi: usize) -> String {
        if lo >= hi {
            return String::new();
        }
        let mut out = String::new();
        let mut cursor = self.tokens[lo].start;
        let mut i = lo;
        while i < hi {
            let close = self.after(i) - 1;
            if close > i {
                out.push_str(&self.source[cursor..self.tokens[i].end]);
                out.push_str(&self.expression(i + 1, close));
                cursor = self.tokens[close].start;
            }
            i = close + 1;
        }
        out.push_str(&self.source[cursor..self.tokens[hi - 1].end]);
        out
    }

    /// The index after token `i`, or after its whole group when it opens one.
    fn after(&self, i: usize) -> usize {
        if !matches!(self.tokens[i].text, "(" | "[" | "{") {
            return i + 1;
        }
        let mut depth = 0usize;
        for (j, token) in self.tokens.iter().enumerate().skip(i) {
            match token.text {
                "(" | "[" | "{" => depth += 1,
                ")" | "]" | "}" => depth -= 1,
                _ => {}
            }
            if depth == 0 {
                return j + 1;
            }
        }
        self.tokens.len()
    }

    fn binds_looser_than_comparison(&self, i: usize) -> bool {
        matches!(self.tokens[i].text, "and" | "or" | "if" | "else" | "," | ":")
            || self.tokens[i].text == "not" && !is_comparison(self.tokens, i)
    }
}

fn is_ordering(token: &str) -> bool {
    matches!(token, "<" | "<=" | ">" | ">=")
}

/// Whether token `i` is a comparison operator (`not` only as the start of `not in`).
fn is_comparison(tokens: &[Token], i: usize) -> bool {
    match tokens[i].text {
        "==" | "!=" | "in" => true,
        "not" => tokens.get(i + 1).is_some_and(|t| t.text == "in"),
        other => is_ordering(other),
    }
}

/// Python reads `-x ** 2` as `-(x ** 2)` and `a ** b ** c` as `a ** (b ** c)`; minijinja
/// reads them as `(-x) ** 2` and `(a ** b) ** c`. Such an expression is refused (with the
/// parentheses that say which is meant) rather than silently meaning something else.
pub fn power_ambiguity(source: &str) -> Option<String> {
    let tokens: Vec<&str> = tokens(source).iter().map(|t| t.text).collect();
    for (i, &token) in tokens.iter().enumerate() {
        if token != "**" {
            continue;
        }
        // The left operand: back over postfix groups and one atom; is it preceded by a
        // unary minus?
        let start = operand_start(&tokens, i);
        let unary_minus =
            start > 0 && tokens[start - 1] == "-" && (start == 1 || is_operator_or_opener(tokens[start - 2]));
        if unary_minus {
            let operand = tokens[start..i].concat();
            return Some(format!(
                "`-{operand} ** ...` means `(-{operand}) ** ...` here but `-({operand} ** ...)` in Python"
            ));
        }
        let end = operand_end(&tokens, i + 1);
        if tokens.get(end).is_some_and(|t| *t == "**") {
            return Some("`a ** b ** c` is `(a ** b) ** c` here and `a ** (b ** c)` in Python".to_string());
        }
    }
    None
}

/// A token and its byte range in the source.
struct Token<'a> {
    text: &'a str,
    start: usize,
    end: usize,
}

/// Tokens of an expression: quoted strings, names and numbers, the two-character operators
/// (`**`, `//`, `<=`, `>=`, `==`, `!=`) and single characters (spaces dropped).
fn tokens(source: &str) -> Vec<Token<'_>> {
    let chars: Vec<(usize, char)> = source.char_indices().collect();
    let byte = |i: usize| chars.get(i).map_or(source.len(), |&(b, _)| b);
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let (start, c) = chars[i];
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        if c == '\'' || c == '"' {
            let mut quote = QuoteState::default();
            quote.push(c);
            i += 1;
            while i < chars.len() && quote.inside() {
                quote.push(chars[i].1);
                i += 1;
            }
        } else if c.is_alphanumeric() || c == '_' {
            let number = c.is_ascii_digit();
            let continues = |c: char| c.is_alphanumeric() || c == '_' || number && c == '.';
            while i < chars.len() && continues(chars[i].1) {
                i += 1;
            }
        } else if matches!(&source[start..byte(i + 2)], "**" | "//" | "<=" | ">=" | "==" | "!=") {
            i += 2;
        } else {
            i += 1;
        }
        out.push(Token { text: &source[start..byte(i)], start, end: byte(i) });
    }
    out
}

/// Whether a scan of expression text is inside a quoted string.
#[derive(Default)]
pub struct QuoteState {
    open: Option<char>,
    escaped: bool,
}

impl QuoteState {
    /// Take the next character of the text.
    pub fn push(&mut self, c: char) {
        match self.open {
            Some(_) if self.escaped => self.escaped = false,
            Some(_) if c == '\\' => self.escaped = true,
            Some(q) if c == q => self.open = None,
            Some(_) => {}
            None if c == '\'' || c == '"' => self.open = Some(c),
            None => {}
        }
    }

    /// Whether the characters so far end inside a quoted string.
    pub fn inside(&self) -> bool {
        self.open.is_some()
    }
}

fn is_operator_or_opener(token: &str) -> bool {
    matches!(token, "(" | "[" | "{" | "," | ":")
        || matches!(token, "and" | "or" | "not" | "in" | "is" | "if" | "else")
        || token.chars().all(|c| "+-*/%<>=!~".contains(c))
}

/// Index of the first token of the operand that ends just before `end`: an atom or a
/// bracketed group, with its postfixes (`.name`, `[i]`, `(args)`).
fn operand_start(tokens: &[&str], end: usize) -> usize {
    let mut i = end;
    while i > 0 {
        if matches!(tokens[i - 1], ")" | "]" | "}") {
            let mut depth = 0usize;
            while i > 0 {
                i -= 1;
                match tokens[i] {
                    ")" | "]" | "}" => depth += 1,
                    "(" | "[" | "{" => depth = depth.saturating_sub(1),
                    _ => {}
                }
                if depth == 0 {
                    break;
                }
            }
        } else {
            i -= 1;
        }
        let is_postfix = i > 0
            && (tokens[i - 1] == "."
                || matches!(tokens[i], "(" | "[") && !is_operator_or_opener(tokens[i - 1]));
        if !is_postfix {
            break;
        }
        if tokens[i - 1] == "." {
            i -= 1;
        }
    }
    i
}

/// Index just past the operand that starts at `start` (a leading unary sign included).
fn operand_end(tokens: &[&str], start: usize) -> usize {
    let mut i = start;
    while tokens.get(i).is_some_and(|&t| t == "-" || t == "+") {
        i += 1;
    }
    let mut first = true;
    while let Some(&token) = tokens.get(i) {
        if matches!(token, "(" | "[" | "{") {
            let mut depth = 0usize;
            while let Some(&t) = tokens.get(i) {
                match t {
                    "(" | "[" | "{" => depth += 1,
                    ")" | "]" | "}" => depth = depth.saturating_sub(1),
                    _ => {}
                }
                i += 1;
                if depth == 0 {
                    break;
                }
            }
        } else if token == "." {
            i += 2;
        } else if first {
            i += 1;
        } else {
            break;
        }
        first = false;
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordering_comparisons_become_calls_and_the_rest_stays_as_written() {
        let o = ORDERED;
        let cases = [
            ("(a) / (b) == 2 and x in [1, 2]", "(a) / (b) == 2 and x in [1, 2]".to_string()),
            ("(a) < 'x'", format!("({o}((a), '<', 'x'))")),
            ("(a) + 1 >= 2 * b", format!("({o}((a) + 1, '>=', 2 * b))")),
            ("1 < a <= 3", format!("({o}(1, '<', a) and {o}(a, '<=', 3))")),
            ("a == b > c", format!("((a == b) and {o}(b, '>', c))")),
            ("x not in y < z", format!("((x not in y) and {o}(y, '<', z))")),
            ("not a < b or c", format!("not ({o}(a, '<', b)) or c")),
            ("m == 'vit' and n > 1", format!("m == 'vit' and ({o}(n, '>', 1))")),
            ("f(a < 1, b)[0] > -2", format!("({o}(f(({o}(a, '<', 1)), b)[0], '>', -2))")),
            ("x if a<b else y", format!("x if ({o}(a, '<', b)) else y")),
            ("'a<b' == s", "'a<b' == s".to_string()),
            ("a|default(1) <= 2", format!("({o}(a|default(1), '<=', 2))")),
        ];
        for (source, rewritten) in cases {
            assert_eq!(with_python_ordering(source), rewritten, "{source}");
        }
    }

    #[test]
    fn ordering_values_of_different_types_is_refused_as_in_python() {
        let (one, two, text) = (Jinja::from(1), Jinja::from(2.5), Jinja::from("x"));
        assert!(ordered(&one, "<", &two).unwrap());
        assert!(ordered(&Jinja::from(true), ">=", &one).unwrap());
        assert!(ordered(&text, ">", &Jinja::from("a")).unwrap());
        assert!(!ordered(&two, "<=", &one).unwrap());
        let err = ordered(&one, "<", &text).unwrap_err();
        assert_eq!(
            err.detail(),
            Some("`<` between number 1 and string 'x': Python refuses to order values of different types")
        );
        assert!(ordered(&Jinja::from(()), ">", &one).is_err());
    }

    #[test]
    fn power_expressions_that_python_reads_differently_are_found() {
        for ambiguous in
            ["-x ** 2", "a + -x ** 2", "-x.y[0] ** 2", "-(a + b) ** 2", "2 ** 3 ** 2", "-f(x) ** 2"]
        {
            assert!(power_ambiguity(ambiguous).is_some(), "{ambiguous}");
        }
        for fine in [
            "(-x) ** 2",
            "-(x ** 2)",
            "a - x ** 2",
            "x ** -2",
            "(2 ** 3) ** 2",
            "2 ** (3 ** 2)",
            "a[0] ** 2",
            "f(-x) ** 2",
            "-x * 2",
        ] {
            assert!(power_ambiguity(fine).is_none(), "{fine}");
        }
    }
}
