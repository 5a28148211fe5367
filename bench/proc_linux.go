package bench

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// selfRSS returns this process's resident set size and its peak (VmRSS and
// VmHWM of /proc/self/status), in bytes.
func selfRSS() (cur, peak uint64, err error) {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	found := 0
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok || (k != "VmRSS" && k != "VmHWM") {
			continue
		}
		kb, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		if err != nil {
			return 0, 0, fmt.Errorf("/proc/self/status: %s: %v", k, err)
		}
		if k == "VmRSS" {
			cur = kb << 10
		} else {
			peak = kb << 10
		}
		found++
	}
	if found != 2 {
		return 0, 0, fmt.Errorf("/proc/self/status has no VmRSS and VmHWM")
	}
	return cur, peak, sc.Err()
}

// resetPeakRSS sets VmHWM back to the current RSS (proc(5), clear_refs 5).
func resetPeakRSS() error {
	return os.WriteFile("/proc/self/clear_refs", []byte("5"), 0)
}
