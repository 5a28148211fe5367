// Command server is the FerretDB child process of ferrettest.StartProcess
// when the test binary itself is built with the race detector: FerretDB
// instrumented by it runs ten times slower, and it is not the code under
// test. It is started by StartProcess only.
package main

import (
	"fmt"
	"os"

	"github.com/assent-dev/assent/internal/ferrettest"
)

func main() {
	ferrettest.ServeIfChild()
	fmt.Fprintln(os.Stderr, "server: to be started by ferrettest.StartProcess only")
	os.Exit(2)
}
