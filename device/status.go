package device

// The HTTP methods and statuses the device uses (RFC 9110), as plain values
// rather than net/http's names: net/http would link its transport and
// crypto/tls into the approval app's WebAssembly, where fetch carries the
// requests.
const (
	methodGet  = "GET"
	methodPost = "POST"

	statusOK              = 200
	statusCreated         = 201
	statusAccepted        = 202
	statusTooManyRequests = 429
)

// statusTexts are RFC 9110's reason phrases of the statuses a server or a
// proxy in front of it may plausibly answer the device with.
var statusTexts = map[int]string{
	300: "Multiple Choices", 301: "Moved Permanently", 302: "Found", 303: "See Other",
	304: "Not Modified", 307: "Temporary Redirect", 308: "Permanent Redirect",
	400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
	405: "Method Not Allowed", 406: "Not Acceptable", 408: "Request Timeout", 409: "Conflict",
	410: "Gone", 411: "Length Required", 413: "Request Entity Too Large", 415: "Unsupported Media Type",
	421: "Misdirected Request", 422: "Unprocessable Entity", 425: "Too Early", 429: "Too Many Requests",
	431: "Request Header Fields Too Large", 451: "Unavailable For Legal Reasons",
	500: "Internal Server Error", 501: "Not Implemented", 502: "Bad Gateway",
	503: "Service Unavailable", 504: "Gateway Timeout",
}

// statusText returns the reason phrase of status, "" for one not listed.
func statusText(status int) string { return statusTexts[status] }
