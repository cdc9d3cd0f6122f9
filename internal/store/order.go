package store

import (
	"fmt"
	"sort"
)

// FullOrder maps ids to 0..n-1, checking that they are exactly the keys of
// current.
func FullOrder(current map[int64]int, ids []int64) (map[int64]int, error) {
	if len(ids) != len(current) {
		return nil, fmt.Errorf("the workspace has %d rules, %d ids given: %w", len(current), len(ids), ErrNotFound)
	}
	target := make(map[int64]int, len(ids))
	for i, id := range ids {
		if _, ok := current[id]; !ok {
			return nil, fmt.Errorf("rule %d: %w", id, ErrNotFound)
		}
		if _, dup := target[id]; dup {
			return nil, fmt.Errorf("rule %d is listed twice: %w", id, ErrNotFound)
		}
		target[id] = i
	}
	return target, nil
}

// SubsetOrder hands the priority slots the listed rules hold, ascending, to
// those rules in the given order.
func SubsetOrder(current map[int64]int, ids []int64) (map[int64]int, error) {
	slots := make([]int, 0, len(ids))
	seen := make(map[int64]bool, len(ids))
	for _, id := range ids {
		p, ok := current[id]
		if !ok {
			return nil, fmt.Errorf("rule %d: %w", id, ErrNotFound)
		}
		if seen[id] {
			return nil, fmt.Errorf("rule %d is listed twice: %w", id, ErrNotFound)
		}
		seen[id] = true
		slots = append(slots, p)
	}
	sort.Ints(slots)
	target := make(map[int64]int, len(ids))
	for i, id := range ids {
		target[id] = slots[i]
	}
	return target, nil
}
