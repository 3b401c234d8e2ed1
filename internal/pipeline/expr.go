package pipeline

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"
)

// substitute replaces every {{name}} in s by vars[name]. An unknown name, an unclosed brace or an
// expression template ({{=...}}, which the local executor does not implement) is an error.
func substitute(s string, vars map[string]string) (string, error) {
	var b strings.Builder
	for {
		i := strings.Index(s, "{{")
		if i < 0 {
			b.WriteString(s)
			return b.String(), nil
		}
		j := strings.Index(s[i:], "}}")
		if j < 0 {
			return "", fmt.Errorf("unclosed {{ in %q", s)
		}
		name := strings.TrimSpace(s[i+2 : i+j])
		if strings.HasPrefix(name, "=") {
			return "", fmt.Errorf("expression template {{%s}} is not supported by the local executor", name)
		}
		v, ok := vars[name]
		if !ok {
			return "", fmt.Errorf("unknown variable {{%s}}", name)
		}
		b.WriteString(s[:i])
		b.WriteString(v)
		s = s[i+j+2:]
	}
}

// evalWhen evaluates a `when` condition after substitution, with the govaluate subset Argo users
// write: literals (numbers, 'quoted' or "quoted" strings, true/false, bare words as strings),
// comparisons == != < <= > >=, !, && and || (with the usual precedence) and parentheses. Ordering
// comparisons need numbers; == and != compare numbers numerically when both sides are numbers.
func evalWhen(s string) (bool, error) {
	toks, err := lex(s)
	if err != nil {
		return false, fmt.Errorf("when %q: %w", s, err)
	}
	p := &parser{toks: toks}
	v, err := p.or()
	if err == nil && p.pos < len(p.toks) {
		err = fmt.Errorf("unexpected %q", p.toks[p.pos].text)
	}
	if err != nil {
		return false, fmt.Errorf("when %q: %w", s, err)
	}
	bv, ok := v.(bool)
	if !ok {
		return false, fmt.Errorf("when %q: result %v is not a boolean", s, v)
	}
	return bv, nil
}

type token struct {
	text string
	op   bool // operator or parenthesis
	str  bool // quoted string literal
}

func lex(s string) ([]token, error) {
	var toks []token
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n':
			i++
		case c == '(' || c == ')':
			toks = append(toks, token{text: string(c), op: true})
			i++
		case strings.ContainsRune("=!<>&|", rune(c)):
			two := ""
			if i+1 < len(s) {
				two = s[i : i+2]
			}
			switch two {
			case "==", "!=", "<=", ">=", "&&", "||":
				toks = append(toks, token{text: two, op: true})
				i += 2
				continue
			}
			if c == '!' || c == '<' || c == '>' {
				toks = append(toks, token{text: string(c), op: true})
				i++
				continue
			}
			return nil, fmt.Errorf("unexpected %q at %d", c, i)
		case c == '\'' || c == '"':
			j := strings.IndexByte(s[i+1:], c)
			if j < 0 {
				return nil, fmt.Errorf("unterminated string at %d", i)
			}
			toks = append(toks, token{text: s[i+1 : i+1+j], str: true})
			i += j + 2
		default:
			j := i
			for j < len(s) && !unicode.IsSpace(rune(s[j])) && !strings.ContainsRune("()=!<>&|'\"", rune(s[j])) {
				j++
			}
			toks = append(toks, token{text: s[i:j]})
			i = j
		}
	}
	return toks, nil
}

type parser struct {
	toks []token
	pos  int
}

func (p *parser) peek(op string) bool {
	return p.pos < len(p.toks) && p.toks[p.pos].op && p.toks[p.pos].text == op
}

func (p *parser) or() (any, error) {
	l, err := p.and()
	for err == nil && p.peek("||") {
		p.pos++
		var r any
		if r, err = p.and(); err == nil {
			l, err = logic("||", l, r)
		}
	}
	return l, err
}

func (p *parser) and() (any, error) {
	l, err := p.cmp()
	for err == nil && p.peek("&&") {
		p.pos++
		var r any
		if r, err = p.cmp(); err == nil {
			l, err = logic("&&", l, r)
		}
	}
	return l, err
}

func logic(op string, l, r any) (any, error) {
	lb, lok := l.(bool)
	rb, rok := r.(bool)
	if !lok || !rok {
		return nil, fmt.Errorf("%s needs booleans, got %v and %v", op, l, r)
	}
	if op == "&&" {
		return lb && rb, nil
	}
	return lb || rb, nil
}

func (p *parser) cmp() (any, error) {
	l, err := p.unary()
	if err != nil {
		return nil, err
	}
	for _, op := range []string{"==", "!=", "<=", ">=", "<", ">"} {
		if p.peek(op) {
			p.pos++
			r, err := p.unary()
			if err != nil {
				return nil, err
			}
			return compare(op, l, r)
		}
	}
	return l, nil
}

func compare(op string, l, r any) (any, error) {
	lf, lnum := l.(float64)
	rf, rnum := r.(float64)
	if lnum && rnum {
		switch op {
		case "==":
			return lf == rf, nil
		case "!=":
			return lf != rf, nil
		case "<":
			return lf < rf, nil
		case "<=":
			return lf <= rf, nil
		case ">":
			return lf > rf, nil
		default:
			return lf >= rf, nil
		}
	}
	switch op {
	case "==":
		return fmt.Sprint(l) == fmt.Sprint(r), nil
	case "!=":
		return fmt.Sprint(l) != fmt.Sprint(r), nil
	}
	return nil, fmt.Errorf("%s needs numbers, got %v and %v", op, l, r)
}

func (p *parser) unary() (any, error) {
	if p.peek("!") {
		p.pos++
		v, err := p.unary()
		if err != nil {
			return nil, err
		}
		b, ok := v.(bool)
		if !ok {
			return nil, fmt.Errorf("! needs a boolean, got %v", v)
		}
		return !b, nil
	}
	if p.peek("(") {
		p.pos++
		v, err := p.or()
		if err != nil {
			return nil, err
		}
		if !p.peek(")") {
			return nil, fmt.Errorf("missing )")
		}
		p.pos++
		return v, nil
	}
	if p.pos >= len(p.toks) {
		return nil, fmt.Errorf("unexpected end")
	}
	t := p.toks[p.pos]
	if t.op {
		return nil, fmt.Errorf("unexpected %q", t.text)
	}
	p.pos++
	if t.str {
		return t.text, nil
	}
	switch t.text {
	case "true":
		return true, nil
	case "false":
		return false, nil
	}
	if f, err := strconv.ParseFloat(t.text, 64); err == nil {
		return f, nil
	}
	return t.text, nil
}
