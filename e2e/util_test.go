package e2e

import "os"

// screenshotDir is where tests save screenshots; "" saves none.
func screenshotDir() string { return os.Getenv("MEET_SCREENSHOT_DIR") }
