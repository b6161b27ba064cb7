package capture

import (
	"context"
	"errors"
	"slices"
	"sync"
	"time"

	"github.com/vpt-dev/vpt/internal/ui"
)

// Check tells whether a device answers: it opens it, checks it and closes
// it.
func (r *Registry) Check(ctx context.Context, id string) error {
	dev, err := r.Open(id)
	if err != nil {
		return err
	}
	defer dev.Close()
	return dev.Check(ctx)
}

// Status is a device and whether it answered (vpt devices, vpt doctor).
type Status struct {
	Info
	OK    bool   `json:"ok"`
	Error string `json:"error,omitempty"`
	// Misconfigured: the device's configuration is wrong (an unknown
	// userinterface), not the device.
	Misconfigured bool `json:"misconfigured,omitempty"`
	err           error
}

// Err is why the device did not answer; nil when it did.
func (s Status) Err() error { return s.err }

// CheckAll opens and checks the devices with those ids (none: every
// device) at once, each within timeout, and returns them in the
// registry's order.
func (r *Registry) CheckAll(ctx context.Context, timeout time.Duration, ids ...string) []Status {
	var cfgs []DeviceConfig
	for _, c := range r.Devices() {
		if len(ids) == 0 || slices.Contains(ids, c.ID) {
			cfgs = append(cfgs, c)
		}
	}
	out := make([]Status, len(cfgs))
	var wg sync.WaitGroup
	for i, c := range cfgs {
		wg.Go(func() { out[i] = r.status(ctx, c, timeout) })
	}
	wg.Wait()
	return out
}

func (r *Registry) status(ctx context.Context, c DeviceConfig, timeout time.Duration) Status {
	driver, _ := c.Driver()
	st := Status{Info: Info{ID: c.ID, Name: c.Name, Model: c.Model, Driver: driver}}
	dev, err := r.Open(c.ID)
	if err == nil {
		st.Info = dev.Info()
		cctx, cancel := context.WithTimeout(ctx, timeout)
		err = dev.Check(cctx)
		cancel()
		dev.Close()
	}
	st.OK = err == nil
	if err != nil {
		st.Error, st.err = err.Error(), err
		st.Misconfigured = errors.Is(err, ui.ErrNotFound) || errors.Is(err, ErrBadDeviceConfig)
	}
	return st
}
