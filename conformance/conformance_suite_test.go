package conformance_test

import (
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// TestConformance runs the ginkgo specs of the kit itself: the mutants
// (broken variants of our client) that the scenarios must catch, and the
// line protocol. The scenarios themselves run in TestFeatures and
// TestExternal.
func TestConformance(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "conformance")
}
