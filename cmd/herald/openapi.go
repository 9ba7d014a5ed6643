package main

import (
	"fmt"

	"github.com/heraldhq/herald/internal/api"
)

type openapiCmd struct {
	Format string `enum:"yaml,json" default:"yaml" help:"yaml or json."`
}

func (c *openapiCmd) Run() error {
	_, h := api.New(api.Config{})
	var (
		b   []byte
		err error
	)
	if c.Format == "json" {
		b, err = h.OpenAPI().MarshalJSON()
	} else {
		b, err = h.OpenAPI().YAML()
	}
	if err != nil {
		return err
	}
	fmt.Print(string(b))
	return nil
}
