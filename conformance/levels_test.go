package conformance_test

import (
	"bufio"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/apnskit/apnskit/conformance"
	"github.com/cucumber/godog"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// runLevelled runs one feature given as text against our client, strict
// or not.
func runLevelled(strict bool, feature string) (*conformance.Suite, int) {
	s := &conformance.Suite{Strict: strict, NewClient: func(context.Context) (conformance.Client, error) {
		return conformance.NewLocal(conformance.LocalOptions{}), nil
	}}
	status := godog.TestSuite{ScenarioInitializer: s.InitializeScenario, Options: &godog.Options{
		FeatureContents: []godog.Feature{{Name: "levels.feature", Contents: []byte(feature)}},
		Format:          "progress", Output: GinkgoWriter, NoColors: true, Strict: true,
	}}.Run()
	return s, status
}

const levelsFeature = `
Feature: f
  @should
  Scenario: a SHOULD not met
    Given a mock APNs server
    And a client configured with the server's test certificates
    When the client sends 2 notifications
    Then the client reports token 1 as failed with status 8

  Scenario: an unclassified scenario is a MUST one
    Given a mock APNs server
    And a client configured with the server's test certificates
    When the client sends 1 notification
    Then the gateway accepted every token exactly once
`

var _ = Describe("Levels", func() {
	It("count a SHOULD failure as a warning, and fail the run with it only when strict", func() {
		s, status := runLevelled(false, levelsFeature)
		Expect(status).To(BeZero())
		Expect(s.Failures()).To(BeEmpty())
		Expect(s.Warnings()).To(Equal([]string{"a SHOULD not met"}))
		byName := map[string]conformance.ScenarioResult{}
		for _, r := range s.Results() {
			byName[r.Name] = r
		}
		Expect(byName["a SHOULD not met"].Level).To(Equal(conformance.Should))
		Expect(byName["a SHOULD not met"].Reason).To(ContainSubstring("want 1 reported failed with status 8"))
		Expect(byName["an unclassified scenario is a MUST one"].Level).To(Equal(conformance.Must))
		Expect(byName["an unclassified scenario is a MUST one"].Result).To(Equal(conformance.Passed))

		s, status = runLevelled(true, levelsFeature)
		Expect(status).NotTo(BeZero())
		Expect(s.Warnings()).To(BeEmpty())
		Expect(s.Failures()).To(ContainElement("a SHOULD not met"))
	})

	It("never soften a silent loss, whatever the level", func() {
		s := &conformance.Suite{NewClient: func(context.Context) (conformance.Client, error) {
			return conformance.NewMutant(conformance.MutantDropsNextToken), nil
		}}
		status := godog.TestSuite{ScenarioInitializer: s.InitializeScenario, Options: &godog.Options{
			FeatureContents: []godog.Feature{{Name: "loss.feature", Contents: []byte(`
Feature: f
  @should
  Scenario: loss
    Given a mock APNs server
    And a client configured with the server's test certificates
    And the gateway refuses token 2 with status 8
    When the client sends 4 notifications
    Then the gateway accepted every token except token 2 exactly once
`)}},
			Format: "progress", Output: GinkgoWriter, NoColors: true, Strict: true,
		}}.Run()
		Expect(status).NotTo(BeZero())
		Expect(s.Failures()).To(Equal([]string{"loss"}))
		Expect(s.Results()[0].Reason).To(ContainSubstring("lost without a word"))
	})

	It("are given, with a one-line why, to every scenario of features/", func() {
		files, err := filepath.Glob("../features/*.feature")
		Expect(err).NotTo(HaveOccurred())
		Expect(files).NotTo(BeEmpty())
		scenario := regexp.MustCompile(`^\s*Scenario(?: Outline)?:\s*(.*)$`)
		count := 0
		for _, path := range files {
			f, err := os.Open(path)
			Expect(err).NotTo(HaveOccurred())
			var lines []string
			sc := bufio.NewScanner(f)
			for sc.Scan() {
				lines = append(lines, sc.Text())
			}
			Expect(f.Close()).To(Succeed())
			for i, l := range lines {
				m := scenario.FindStringSubmatch(l)
				if m == nil {
					continue
				}
				count++
				Expect(i).To(BeNumerically(">", 0))
				tags := strings.Fields(lines[i-1])
				var levels []string
				for _, t := range tags {
					if t == conformance.TagMust || t == conformance.TagShould {
						levels = append(levels, t)
					}
				}
				Expect(levels).To(HaveLen(1), "%s: scenario %q needs exactly one of @must and @should on the line above", path, m[1])
				Expect(i + 1).To(BeNumerically("<", len(lines)))
				why := strings.TrimSpace(lines[i+1])
				Expect(why).To(HavePrefix("Why: "), "%s: scenario %q needs a \"Why: ...\" line right below", path, m[1])
				Expect(len(why)).To(BeNumerically(">", len("Why: ")+10))
			}
		}
		Expect(count).To(BeNumerically(">", 40))
	})
})
