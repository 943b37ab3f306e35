//go:build !unix

package mockapns

// fdLimit is unknown outside Unix: the connection limit is Config.MaxConns.
func fdLimit() uint64 { return 0 }
