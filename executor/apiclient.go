package executor

import (
	"bufio"
	"context"
	"encoding/json"
	"net"
	"time"
)

// dialTimeout bounds reaching the vpt that runs the script.
const dialTimeout = 5 * time.Second

// Call sends one request of the script API to the vpt listening at addr
// (a script's VPT_CONTROL) and returns the result as vpt wrote it. A failed
// call is an *APIError: the code and message vpt answered, or run_ended
// when vpt cannot be reached or hangs up.
func Call(ctx context.Context, addr, method string, params map[string]any) (json.RawMessage, error) {
	raw, err := json.Marshal(params)
	if err != nil {
		return nil, &APIError{CodeBadParams, err.Error()}
	}
	d := net.Dialer{Timeout: dialTimeout}
	conn, err := d.DialContext(ctx, "unix", addr)
	if err != nil {
		return nil, &APIError{CodeRunEnded, "cannot reach vpt: " + err.Error()}
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	}
	req, _ := json.Marshal(apiRequest{V: ProtocolVersion, ID: 1, Method: method, Params: raw})
	if _, err := conn.Write(append(req, '\n')); err != nil {
		return nil, &APIError{CodeRunEnded, err.Error()}
	}
	line, err := bufio.NewReaderSize(conn, 64*1024).ReadBytes('\n')
	if err != nil {
		return nil, &APIError{CodeRunEnded, "vpt closed the connection"}
	}
	var rep apiReply[json.RawMessage]
	if err := json.Unmarshal(line, &rep); err != nil {
		return nil, &APIError{Message: "bad reply: " + err.Error()}
	}
	if !rep.OK {
		if rep.Error == nil {
			return nil, &APIError{Message: "bad reply: neither a result nor an error"}
		}
		return nil, rep.Error
	}
	return rep.Result, nil
}
