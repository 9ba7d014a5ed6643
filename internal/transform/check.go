package transform

import (
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/heraldhq/herald/internal/domain"
	"github.com/itchyny/gojq"
)

// refused are the built-ins a transform may not call, by name/arity. A body
// must be a function of the envelope alone: the same event gives the same
// body on every attempt and every host, and nothing of the process leaks.
var refused = map[string]string{
	"env/0":           "the process environment is not available to a transform",
	"input/0":         "a transform has one input, the envelope",
	"inputs/0":        "a transform has one input, the envelope",
	"now/0":           "a transform may not read the clock; use .timestamp",
	"localtime/0":     "a transform may not depend on the server's time zone; use gmtime",
	"strflocaltime/1": "a transform may not depend on the server's time zone; use strftime",
	"halt/0":          "halt stops without a body; use error(…)",
	"halt_error/0":    "halt_error stops without a body; use error(…)",
	"halt_error/1":    "halt_error stops without a body; use error(…)",
	"modulemeta/0":    "a transform may not load modules",
}

// check refuses what Compile must not accept although gojq would: the
// built-ins above (unless the program defines its own of that name), $ENV,
// modules, and a program that can never produce output.
func check(src string, q *gojq.Query) error {
	if len(q.Imports) > 0 || q.Meta != nil {
		return invalid(src, wordOffset(src, "import", "include", "module"), "a transform may not load modules")
	}
	var found error
	walk(reflect.ValueOf(q), nil, func(f *gojq.Func, s *scope) bool {
		name := f.Name + "/" + strconv.Itoa(len(f.Args))
		if f.Name == "$ENV" {
			found = invalid(src, wordOffset(src, "$ENV"), "$ENV: %s", refused["env/0"])
		} else if why, ok := refused[name]; ok && !s.defines(name) {
			found = invalid(src, wordOffset(src, f.Name), "%s: %s", name, why)
		}
		return found == nil
	})
	if found != nil {
		return found
	}
	if neverOutputs(q) {
		return invalid(src, wordOffset(src, "empty", "error"), "the program can never produce output, so it would never send a body")
	}
	return nil
}

// scope is the chain of functions the program defines around a call: a call
// to a refused name is the program's own function when one is in scope.
type scope struct {
	name   string // name/arity
	parent *scope
}

func (s *scope) defines(name string) bool {
	for ; s != nil; s = s.parent {
		if s.name == name {
			return true
		}
	}
	return false
}

var (
	queryType   = reflect.TypeFor[*gojq.Query]()
	funcDefType = reflect.TypeFor[*gojq.FuncDef]()
	funcType    = reflect.TypeFor[*gojq.Func]()
)

// walk visits every call in the syntax tree with the functions in scope. It
// goes through reflection so that no kind of node (label, reduce, string
// interpolation, object pattern, …) can hide a call from it; only the nodes
// that open a scope are named.
func walk(v reflect.Value, s *scope, visit func(*gojq.Func, *scope) bool) bool {
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			return true
		}
		switch v.Type() {
		case queryType:
			q := v.Interface().(*gojq.Query)
			for _, fd := range q.FuncDefs {
				// A definition is in scope in its own body and after it.
				s = &scope{name: fd.Name + "/" + strconv.Itoa(len(fd.Args)), parent: s}
				if !walk(reflect.ValueOf(fd), s, visit) {
					return false
				}
			}
			for _, sub := range []*gojq.Query{q.Left, q.Right} {
				if !walk(reflect.ValueOf(sub), s, visit) {
					return false
				}
			}
			return walk(reflect.ValueOf(q.Term), s, visit) && walk(reflect.ValueOf(q.Patterns), s, visit)
		case funcDefType:
			fd := v.Interface().(*gojq.FuncDef)
			for _, arg := range fd.Args {
				// Each parameter, $x or x, is a function x/0 in the body.
				s = &scope{name: strings.TrimPrefix(arg, "$") + "/0", parent: s}
			}
			return walk(reflect.ValueOf(fd.Body), s, visit)
		case funcType:
			f := v.Interface().(*gojq.Func)
			if !visit(f, s) {
				return false
			}
		}
		return walk(v.Elem(), s, visit)
	case reflect.Struct:
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() && !walk(v.Field(i), s, visit) {
				return false
			}
		}
	case reflect.Slice:
		for i := range v.Len() {
			if !walk(v.Index(i), s, visit) {
				return false
			}
		}
	}
	return true
}

// neverOutputs reports the programs that certainly produce nothing: empty or
// error(…) in a pipe, on both sides of a comma, or in an operand.
func neverOutputs(q *gojq.Query) bool {
	if q == nil {
		return false
	}
	for _, fd := range q.FuncDefs {
		if fd.Name == "empty" || fd.Name == "error" {
			return false
		}
	}
	if t := q.Term; t != nil {
		switch t.Type {
		case gojq.TermTypeFunc:
			return t.Func.Name == "empty" && len(t.Func.Args) == 0 ||
				t.Func.Name == "error" && len(t.Func.Args) <= 1
		case gojq.TermTypeQuery:
			return neverOutputs(t.Query)
		}
		return false
	}
	switch q.Op {
	case gojq.OpComma:
		return neverOutputs(q.Left) && neverOutputs(q.Right)
	case gojq.OpPipe, gojq.OpAdd, gojq.OpSub, gojq.OpMul, gojq.OpDiv, gojq.OpMod,
		gojq.OpEq, gojq.OpNe, gojq.OpGt, gojq.OpLt, gojq.OpGe, gojq.OpLe:
		return neverOutputs(q.Left) || neverOutputs(q.Right)
	}
	return false
}

// invalid is Compile's error: the field "transform", with the line and column
// of offset when it is known (not negative).
func invalid(src string, offset int, format string, args ...any) error {
	msg := fmt.Sprintf(format, args...)
	if offset < 0 {
		return domain.Invalid("transform", "%s", msg)
	}
	offset = min(offset, len(src))
	line := 1 + strings.Count(src[:offset], "\n")
	col := 1 + utf8.RuneCountInString(src[strings.LastIndexByte(src[:offset], '\n')+1:offset])
	return domain.Invalid("transform", "at line %d, column %d: %s", line, col, msg)
}

// positionOf finds the name a gojq compile error is about ("function not
// defined: f/1", "variable not defined: $x"); gojq's compile errors carry
// no position.
func positionOf(src string, err error) int {
	msg := err.Error()
	_, name, ok := strings.Cut(msg, "not defined: ")
	if !ok {
		return -1
	}
	name, _, _ = strings.Cut(name, "/")
	return wordOffset(src, name)
}

// wordOffset is the offset of the first use of any of names in the program's
// code (not in a string or a comment, not a .field, not after def), or -1.
func wordOffset(src string, names ...string) int {
	var interp []int // open parentheses of each \( … ) we are inside
	inString := false
	for i := 0; i < len(src); i++ {
		c := src[i]
		if inString {
			switch c {
			case '\\':
				if i+1 < len(src) && src[i+1] == '(' {
					interp = append(interp, 0)
					inString = false
				}
				i++
			case '"':
				inString = false
			}
			continue
		}
		switch {
		case c == '"':
			inString = true
		case c == '#':
			for i < len(src) && src[i] != '\n' {
				i++
			}
		case c == '(' && len(interp) > 0:
			interp[len(interp)-1]++
		case c == ')' && len(interp) > 0:
			if interp[len(interp)-1] == 0 {
				interp = interp[:len(interp)-1]
				inString = true
			} else {
				interp[len(interp)-1]--
			}
		case isWordStart(c) && (i == 0 || !isWordByte(src[i-1]) && src[i-1] != '.'):
			j := i + 1
			for j < len(src) && (isWordByte(src[j]) || src[j] == ':' && j+1 < len(src) && src[j+1] == ':') {
				if src[j] == ':' {
					j++
				}
				j++
			}
			word := src[i:j]
			for _, name := range names {
				if word == name && !strings.HasSuffix(strings.TrimRight(src[:i], " \t\r\n"), "def") {
					return i
				}
			}
			i = j - 1
		}
	}
	return -1
}

func isWordStart(c byte) bool {
	return c == '$' || c == '_' || c == '@' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
}

func isWordByte(c byte) bool {
	return c == '_' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}
