package manage

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/heraldhq/herald/internal/domain"
)

// The schema validator reads every number a numeric keyword judges as an
// exact fraction (math/big). A number of a million digits costs it seconds
// of CPU, and one with an exponent of ten million is refused by math/big,
// which the validator does not check before it compares (a nil pointer
// panic). No identity payload needs more than these bounds, so numbers
// beyond them are refused before a schema reads them, in the schema and in
// the data it checks.
const (
	maxNumberText     = 100
	maxNumberExponent = 1000
)

// checkNumbers refuses a number beyond maxNumberText characters or
// maxNumberExponent in magnitude anywhere in v, decoded as
// jsonschema.UnmarshalJSON decodes it, naming it under field
// ("data.score", "schema.properties.score.minimum").
func checkNumbers(v any, field string) error {
	path, msg := badNumber(v)
	if msg == "" {
		return nil
	}
	slices.Reverse(path)
	return domain.Invalid(strings.Join(append([]string{field}, path...), "."), "%s", msg)
}

// badNumber finds a number checkNumbers refuses and says why, with its
// path from v, innermost first; the path is built only for it, since a
// publish checks every number of its data.
func badNumber(v any) (path []string, msg string) {
	switch v := v.(type) {
	case json.Number:
		return nil, numberFault(string(v))
	case map[string]any:
		for k, e := range v {
			if path, msg := badNumber(e); msg != "" {
				return append(path, k), msg
			}
		}
	case []any:
		for i, e := range v {
			if path, msg := badNumber(e); msg != "" {
				return append(path, strconv.Itoa(i)), msg
			}
		}
	}
	return nil, ""
}

func numberFault(n string) string {
	if len(n) > maxNumberText {
		return fmt.Sprintf("a number of more than %d characters is not accepted", maxNumberText)
	}
	if i := strings.IndexAny(n, "eE"); i >= 0 {
		exp, err := strconv.Atoi(strings.TrimPrefix(n[i+1:], "+"))
		if err != nil || exp > maxNumberExponent || exp < -maxNumberExponent {
			return fmt.Sprintf("a number with an exponent beyond ±%d is not accepted", maxNumberExponent)
		}
	}
	return ""
}
