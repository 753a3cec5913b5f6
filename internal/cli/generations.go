package cli

import (
	"fmt"

	"github.com/mbd-dev/mbd/internal/schema"
	"github.com/mbd-dev/mbd/internal/table"
)

// ReadGenerations streams the rows of GENERATIONS tables to fn, one table after another, recording
// each in the manifest (EachRow). A generation id found in two of the tables is an InputError
// naming the later table and the id: the same generations given twice (a copy under another name)
// would be counted twice. Only the ids are kept across tables.
func ReadGenerations(env *Env, paths []string, fn func(path string, g schema.Generation) error) error {
	from := map[string]int{} // generation id → index of its table in paths
	for i, path := range paths {
		_, err := EachRow(env, path, func(g schema.Generation) error {
			if j, ok := from[g.ID]; ok && j != i {
				return &table.InputError{Path: path, Column: "id",
					Msg: fmt.Sprintf("generation %s is also in %s: give each generation once", g.ID, paths[j])}
			}
			from[g.ID] = i
			return fn(path, g)
		})
		if err != nil {
			return err
		}
	}
	return nil
}
