package threshold

import "fmt"

// RecordInfo returns the POPRF info of record recordID of user userID:
// "assent/record/v1" || lp(userID) || lp(recordID). It returns ErrTooLong if
// a field or the whole info is over 65535 bytes (the oprf package's cap on
// info).
func RecordInfo(userID, recordID string) ([]byte, error) {
	return pairInfo(LabelRecord, "user id", userID, "record id", recordID)
}

// EnrollCheckInfo returns the POPRF info of the enrollment check of device
// deviceID of user userID: "assent/enroll-check/v1" || lp(userID) ||
// lp(deviceID). Errors as RecordInfo.
func EnrollCheckInfo(userID, deviceID string) ([]byte, error) {
	return pairInfo(LabelEnrollCheck, "user id", userID, "device id", deviceID)
}

func pairInfo(label, name1, v1, name2, v2 string) ([]byte, error) {
	e := newEncoder(label, 4+len(v1)+len(v2))
	lp(&e, name1, v1)
	lp(&e, name2, v2)
	info, err := e.result()
	if err == nil && len(info) > maxField {
		return nil, fmt.Errorf("%w: info is %d bytes", ErrTooLong, len(info))
	}
	return info, err
}
