package main

import "testing"

func TestClusterFlags(t *testing.T) {
	c, err := parseConfig([]string{"-node-id", "n1", "-nats-url", "nats://127.0.0.1:4222"}, func(k string) string {
		return map[string]string{"TICKSTREAM_PUBLIC_URL": "http://10.0.0.5:8080"}[k]
	})
	if err != nil {
		t.Fatal(err)
	}
	if !c.cluster.enabled() || c.cluster.nodeID != "n1" || c.cluster.publicURL != "http://10.0.0.5:8080" {
		t.Fatalf("cluster flags: %+v", c.cluster)
	}
	if single, _ := parseConfig(nil, func(string) string { return "" }); single.cluster.enabled() {
		t.Fatal("no NATS flag, yet a cluster")
	}
	for addr, want := range map[string]string{"127.0.0.1:8081": "http://127.0.0.1:8081", ":8080": "", "0.0.0.0:8080": ""} {
		got, err := (clusterConfig{natsURL: "x"}).publicBase(addr)
		if got != want || (want == "") != (err != nil) {
			t.Errorf("public base of -addr %s: %q, %v; want %q", addr, got, err, want)
		}
	}
	if got, _ := (clusterConfig{publicURL: "https://game.example.com"}).publicBase(":8080"); got != "https://game.example.com" {
		t.Errorf("-public-url ignored: %q", got)
	}
}
