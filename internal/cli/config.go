package cli

import (
	"fmt"
	"slices"
	"strings"

	"github.com/BurntSushi/toml"
	ucli "github.com/urfave/cli/v3"
)

// applyConfig fills the flags of cmd that neither the command line nor the environment set from the
// TOML file named by --config (or MBD_CONFIG). Keys are flag names. Top-level keys apply to every
// tool that has such a flag; a table named after the tool applies to it, and a nested table to a
// subcommand, the most specific winning:
//
//	log-format = "json"          # every tool
//	[mbd-prompts]
//	validation-fraction = 0.3    # mbd-prompts
//	[mbd-gen.import]
//	model-col = "system"         # mbd-gen import
//
// Unknown keys in the tool's (or subcommand's) own table are an error: they are typos.
func applyConfig(cmd *ucli.Command) error {
	path := cmd.String("config")
	if path == "" {
		return nil
	}
	var doc map[string]any
	if _, err := toml.DecodeFile(path, &doc); err != nil {
		return &UsageError{Err: fmt.Errorf("config %s: %w", path, err)}
	}
	// Layers from least to most specific: top level, tool, subcommand...
	layers := []map[string]any{doc}
	var names []string
	for _, c := range slices.Backward(cmd.Lineage()) {
		names = append(names, c.Name)
		next, ok := layers[len(layers)-1][c.Name].(map[string]any)
		if !ok {
			break
		}
		layers = append(layers, next)
	}
	values := map[string]any{}
	for _, layer := range layers {
		for k, v := range layer {
			if _, isTable := v.(map[string]any); !isTable {
				values[k] = v
			}
		}
	}
	if len(layers) == len(names)+1 { // the command's own table exists: check its keys
		own := layers[len(layers)-1]
		for k, v := range own {
			if _, isTable := v.(map[string]any); isTable {
				continue
			}
			if !hasFlag(cmd, k) {
				return Usagef("config %s: [%s] sets %q, which is not a flag of %s", path, strings.Join(names, "."), k, strings.Join(names, " "))
			}
		}
	}
	for _, f := range cmd.Flags {
		name := f.Names()[0]
		v, ok := values[name]
		if !ok || f.IsSet() {
			continue
		}
		vals := []any{v}
		if list, isList := v.([]any); isList {
			vals = list
		}
		for _, x := range vals {
			if err := cmd.Set(name, fmt.Sprint(x)); err != nil {
				return Usagef("config %s: %s = %v: %v", path, name, v, err)
			}
		}
	}
	return nil
}

func hasFlag(cmd *ucli.Command, name string) bool {
	for _, c := range cmd.Lineage() {
		for _, f := range c.Flags {
			if slices.Contains(f.Names(), name) {
				return true
			}
		}
	}
	return false
}
