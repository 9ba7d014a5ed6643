package client

import (
	"context"
	"iter"
)

// List is one page of a list.
type List[T any] struct {
	Data []T `json:"data"`
	// NextCursor continues the list; empty on the last page.
	NextCursor string `json:"next_cursor,omitempty"`
}

// ListParams page through a list.
type ListParams struct {
	// Cursor is where the previous page ended: its NextCursor.
	Cursor string `query:"cursor"`
	// Limit is the most items a page holds: 1 to 500; 0 means 50.
	Limit int `query:"limit"`
}

func (p *ListParams) setCursor(c string) { p.Cursor = c }

// cursorSetter is a list's parameters, which All moves from page to page.
type cursorSetter interface{ setCursor(string) }

// All walks every item of a paginated list, fetching each page when the
// loop reaches it: list is the Client's method (such as c.ListDeliveries)
// and params its first page's parameters (nil for none), which All does
// not change. An error ends the walk as the loop's last item.
//
//	for d, err := range client.All(ctx, c.ListDeliveries, &client.DeliveryListParams{Status: "failed"}) {
//		if err != nil {
//			return err
//		}
//		…
//	}
func All[T, P any, PP interface {
	*P
	cursorSetter
}](ctx context.Context, list func(context.Context, PP) (*List[T], error), params PP) iter.Seq2[T, error] {
	return func(yield func(T, error) bool) {
		var p P
		if params != nil {
			p = *params
		}
		for {
			page, err := list(ctx, &p)
			if err != nil {
				var zero T
				yield(zero, err)
				return
			}
			for _, item := range page.Data {
				if !yield(item, nil) {
					return
				}
			}
			if page.NextCursor == "" {
				return
			}
			PP(&p).setCursor(page.NextCursor)
		}
	}
}
