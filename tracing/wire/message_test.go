package wire

import (
	"errors"
	"fmt"
	"testing"
)

func TestServerError(t *testing.T) {
	tests := []struct {
		name      string
		resp      ErrorResponse
		text      string
		retryable bool
	}{
		{"not found", ErrorResponse{Message: "no trace", Code: CodeNotFound}, "tracing: server error NotFound: no trace", false},
		{"invalid request", ErrorResponse{Message: "m", Code: CodeInvalidRequest}, "tracing: server error InvalidRequest: m", false},
		{"storage", ErrorResponse{Message: "disk", Code: CodeStorageError}, "tracing: server error StorageError: disk", true},
		{"serialization", ErrorResponse{Message: "m", Code: CodeSerializationError}, "tracing: server error SerializationError: m", false},
		{"unauthorized", ErrorResponse{Message: "m", Code: CodeUnauthorized}, "tracing: server error Unauthorized: m", false},
		{"internal", ErrorResponse{Message: "m", Code: CodeInternalError}, "tracing: server error InternalError: m", true},
		{"legacy invalid format", ErrorResponse{Message: "Invalid message format"}, "tracing: server error: Invalid message format", false},
		{"legacy other", ErrorResponse{Message: "Failed to store trace"}, "tracing: server error: Failed to store trace", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := fmt.Errorf("sink: write: %w", tc.resp.Err())
			var se *ServerError
			if !errors.As(err, &se) {
				t.Fatal("errors.As failed")
			}
			if se.Error() != tc.text {
				t.Errorf("Error() = %q, want %q", se.Error(), tc.text)
			}
			if se.Retryable() != tc.retryable {
				t.Errorf("Retryable() = %v, want %v", se.Retryable(), tc.retryable)
			}
			if se.Code != "" && se.Code.Retryable() != tc.retryable {
				t.Errorf("Code.Retryable() = %v", se.Code.Retryable())
			}
			if se.Code != "" && !se.Code.Valid() {
				t.Errorf("%q not valid", se.Code)
			}
		})
	}
	if ErrorCode("").Valid() || ErrorCode("").Retryable() || ErrorCode("Teapot").Valid() {
		t.Error("the empty and unknown codes are not valid protocol codes and not retryable by code")
	}
}
