// Package docs holds the project's documentation (markdown). This test
// keeps its promise that everything the README, the pages and the code
// refer to is inside the repository.
package docs_test

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"unicode"
)

// repoRoot is the repository, from this package's directory.
const repoRoot = ".."

var (
	// mdLinkRE is a markdown link or image: [text](target).
	mdLinkRE = regexp.MustCompile(`\]\(([^)\s]+)\)`)
	// docsRefRE is a mention of a docs page in code or prose:
	// docs/concepts.md#runs-and-why-not-traces.
	docsRefRE = regexp.MustCompile(`\bdocs/([a-z0-9-]+\.md)(#[a-z0-9_-]+)?`)
	// outsideRE is a reference to a document outside the repository.
	outsideRE = regexp.MustCompile(`\bAPI\.md\b|\.\./shared/`)
	headingRE = regexp.MustCompile(`^#{1,6}\s+(.*?)\s*#*\s*$`)
)

// notYetFixed are files allowed to still cite the contract outside the
// repository: none. (A file being moved may be listed here while its
// comments wait for their docs/ references.)
var notYetFixed = map[string]bool{}

// contractSections says where each section of the contract the code used
// to cite (API.md §N) is now told, for the message that asks to fix one.
var contractSections = map[string]string{
	"0": "docs/concepts.md#conventions", "1": "docs/concepts.md#workspaces-members-tokens-and-roles",
	"2": "docs/concepts.md#rules", "3": "docs/concepts.md#triggers", "4": "docs/concepts.md#conditions",
	"5": "docs/concepts.md#actions (or #deliveries-and-the-outbox)", "6": "docs/concepts.md#processing",
	"7": "docs/concepts.md#alerting", "8": "docs/concepts.md#events (or #runs-and-why-not-traces)",
	"9": "docs/concepts.md#compatibility-apis", "10": "docs/operations.md",
}

var sectionRE = regexp.MustCompile(`API\.md §(\d+)`)

// TestLinksResolve: every relative link of the README and of docs/*.md
// points at a file of the repository and, with a #fragment, at a heading
// of that file.
func TestLinksResolve(t *testing.T) {
	t.Parallel()
	pages, _ := filepath.Glob(filepath.Join(repoRoot, "docs", "*.md"))
	pages = append(pages, filepath.Join(repoRoot, "README.md"))
	for _, page := range pages {
		text := readFile(t, page)
		for _, m := range mdLinkRE.FindAllStringSubmatch(stripCode(text), -1) {
			target := m[1]
			if strings.Contains(target, "://") || strings.HasPrefix(target, "mailto:") {
				continue
			}
			file, frag, _ := strings.Cut(target, "#")
			path := page
			if file != "" {
				path = filepath.Join(filepath.Dir(page), file)
			}
			checkTarget(t, rel(page), target, path, frag)
		}
	}
}

// TestDocsReferences: every "docs/page.md#anchor" named in code comments,
// the README or the pages exists, and nothing cites a document outside
// the repository (the contract's API.md, ../shared/).
func TestDocsReferences(t *testing.T) {
	t.Parallel()
	refs := 0
	err := filepath.WalkDir(repoRoot, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if strings.HasPrefix(d.Name(), ".") && path != repoRoot || d.Name() == "testdata" {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") && !strings.HasSuffix(path, ".md") {
			return nil
		}
		if strings.Contains(path, string(filepath.Separator)+"docsui"+string(filepath.Separator)) {
			return nil // vendored
		}
		name := rel(path)
		text := readFile(t, path)
		if name != "docs/links_test.go" {
			for i, line := range strings.Split(text, "\n") {
				if outsideRE.MatchString(line) && !notYetFixed[name] {
					hint := "a docs/ page"
					if m := sectionRE.FindStringSubmatch(line); m != nil && contractSections[m[1]] != "" {
						hint = contractSections[m[1]]
					}
					t.Errorf("%s:%d refers to a document outside the repository; point at %s instead: %s",
						name, i+1, hint, strings.TrimSpace(line))
				}
			}
		}
		for _, m := range docsRefRE.FindAllStringSubmatch(text, -1) {
			if name == "docs/links_test.go" {
				continue
			}
			refs++
			checkTarget(t, name, m[0], filepath.Join(repoRoot, "docs", m[1]), strings.TrimPrefix(m[2], "#"))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if refs < 10 {
		t.Errorf("only %d references to docs/ pages found: is the walk looking in the right place?", refs)
	}
}

// TestSlug pins the anchor rule to GitHub's on the headings the docs use.
func TestSlug(t *testing.T) {
	t.Parallel()
	for heading, want := range map[string]string{
		"Runs and why-not traces":                  "runs-and-why-not-traces",
		"Workspaces, members, tokens and roles":    "workspaces-members-tokens-and-roles",
		"`payload_hash`":                           "payload_hash",
		"Loop prevention: `caused_by`":             "loop-prevention-caused_by",
		"`GET /v1/automation/rules/{id}`":          "get-v1automationrulesid",
		"Measuring a machine: `switchboard bench`": "measuring-a-machine-switchboard-bench",
	} {
		if got := slug(heading); got != want {
			t.Errorf("slug(%q) = %q, want %q", heading, got, want)
		}
	}
}

func checkTarget(t *testing.T, from, target, path, frag string) {
	t.Helper()
	info, err := os.Stat(path)
	if err != nil {
		t.Errorf("%s: link %s: no such file in the repository", from, target)
		return
	}
	if frag == "" {
		return
	}
	if info.IsDir() || !strings.HasSuffix(path, ".md") {
		t.Errorf("%s: link %s: a #fragment on something that is not a markdown page", from, target)
		return
	}
	if !anchors(t, path)[frag] {
		t.Errorf("%s: link %s: %s has no heading with anchor #%s", from, target, rel(path), frag)
	}
}

// anchors returns the anchors GitHub makes for a page's headings.
func anchors(t *testing.T, path string) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	seen := map[string]int{}
	for _, line := range strings.Split(stripCode(readFile(t, path)), "\n") {
		m := headingRE.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		s := slug(m[1])
		if n := seen[s]; n > 0 {
			out[s+"-"+strconv.Itoa(n)] = true
		} else {
			out[s] = true
		}
		seen[s]++
	}
	return out
}

// slug is GitHub's heading anchor: lower case; letters, digits, spaces,
// hyphens and underscores kept; spaces become hyphens.
func slug(heading string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(heading) {
		switch {
		case r == ' ':
			b.WriteRune('-')
		case r == '-' || r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r):
			b.WriteRune(r)
		}
	}
	return b.String()
}

// stripCode blanks fenced code blocks, whose lines are neither headings
// nor links.
func stripCode(text string) string {
	lines := strings.Split(text, "\n")
	in := false
	for i, l := range lines {
		if strings.HasPrefix(strings.TrimSpace(l), "```") {
			in = !in
			lines[i] = ""
			continue
		}
		if in {
			lines[i] = ""
		}
	}
	return strings.Join(lines, "\n")
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func rel(path string) string {
	r, err := filepath.Rel(repoRoot, path)
	if err != nil {
		return path
	}
	return filepath.ToSlash(r)
}
