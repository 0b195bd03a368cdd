package cluster

// Test hooks: ways of failing that a test cannot cause from outside.

// pauseWatch stops the node's watcher and re-lists: its listing then
// changes only through heartbeats (and explicit relist calls).
func (n *Node) pauseWatch() {
	n.mu.Lock()
	n.noWatch = true
	n.mu.Unlock()
}

// crash stops the node as a killed process would: no last heartbeat, no
// deletes, its connection gone.
func (n *Node) crash() {
	n.mu.Lock()
	n.paused = true
	n.mu.Unlock()
	n.cancel()
	n.wg.Wait()
	n.nc.Close()
}
