package conformance

// CheckResponse is checkResponse, for the specs of the line protocol.
var CheckResponse = checkResponse
