package report

import "errors"

// ErrUpload: the artifact store could not be reached or refused an upload.
var ErrUpload = errors.New("upload failed")
