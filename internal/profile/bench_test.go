package profile_test

import (
	"testing"

	"github.com/heraldhq/herald/internal/profile"
)

// BenchmarkRender renders the spec's fixture events (all of them, with each
// profile) so that every profile is measured on the same bodies as standard.
// ns/op is per body.
func BenchmarkRender(b *testing.B) {
	var ins []*profile.Input
	for _, g := range goldens {
		ins = append(ins, envelope(b, read(b, "testdata/golden/"+g.id+".event.json")))
	}
	for _, p := range profile.All() {
		r, err := p.Renderer(genOpts[p.Name][len(genOpts[p.Name])-1])
		if err != nil {
			b.Fatal(err)
		}
		b.Run(p.Name, func(b *testing.B) {
			b.ReportAllocs()
			var buf []byte
			for i := 0; b.Loop(); i++ {
				buf = r.Append(buf[:0], ins[i%len(ins)])
			}
		})
	}
}
