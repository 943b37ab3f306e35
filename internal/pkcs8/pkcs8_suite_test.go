package pkcs8_test

import (
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

func TestPKCS8(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "internal/pkcs8")
}
