package main

import (
	"context"
	"fmt"
)

type migrateCmd struct {
	databaseFlag
}

func (c *migrateCmd) Run() error {
	st, err := c.open(context.Background(), nil)
	if err != nil {
		return err
	}
	fmt.Println("migrations applied")
	return st.Close()
}
