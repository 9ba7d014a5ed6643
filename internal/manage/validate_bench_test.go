package manage

import (
	"bytes"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/heraldhq/herald/internal/catalog"
)

// benchData is the load harness's event data (bench/publish.go).
const benchData = `{"t":1733475000000000,"s":12345,"status":"approved","decision":{"result":"approved","reasons":[],"result_code":"R100","result_text":"Verified"},"checks":[{"name":"document","result":"clear","score":0.98},{"name":"liveness","result":"clear","score":0.99},{"name":"face_match","result":"clear","score":0.94}],"risk_score":8,"reviewed_by":"auto","workflow":{"id":"wf_basic_kyc","name":"Basic KYC"},"user_id":"u-12345"}`

// BenchmarkValidateCatalogEvent checks the harness's event against its
// catalog type's schema as publish does (decoded once, numbers as written),
// with the schema's references as they are and inlined (inlineRefs).
func BenchmarkValidateCatalogEvent(b *testing.B) {
	typ, _ := catalog.Lookup("verification.approved")
	for _, c := range []struct {
		name   string
		inline func(any) any
	}{{"references", func(v any) any { return v }}, {"inlined", inlineRefs}} {
		b.Run(c.name, func(b *testing.B) {
			v, err := jsonschema.UnmarshalJSON(bytes.NewReader(typ.Schema))
			if err != nil {
				b.Fatal(err)
			}
			sch, err := compileDecoded(c.inline(v))
			if err != nil {
				b.Fatal(err)
			}
			data, err := jsonschema.UnmarshalJSON(bytes.NewReader([]byte(benchData)))
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if err := validateDecoded(sch, data, "data"); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
