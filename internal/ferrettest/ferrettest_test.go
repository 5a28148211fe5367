package ferrettest

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

func TestStartRefusesLongSocketPath(t *testing.T) {
	dir := filepath.Join(os.TempDir(), strings.Repeat("d", 120))
	if _, err := StartProcess(dir); err == nil {
		t.Fatal("StartProcess with a socket path over the limit succeeded")
	}
}

// TestStopRestart: data written before a Stop is there after Restart, on
// the same URI, and the server refuses connections while stopped.
func TestStopRestart(t *testing.T) {
	dir, err := os.MkdirTemp("", "ferrettest-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	srv, err := StartProcess(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Stop()
	if err := srv.Restart(); err == nil {
		t.Fatal("Restart of a running server succeeded")
	}
	ctx := t.Context()
	c, err := mongo.Connect(options.Client().ApplyURI(srv.URI()).SetServerSelectionTimeout(300 * time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Disconnect(context.Background())
	coll := c.Database("t").Collection("c")
	if _, err := coll.InsertOne(ctx, bson.D{{Key: "_id", Value: "kept"}}); err != nil {
		t.Fatal(err)
	}

	srv.Stop()
	srv.Stop() // a second Stop does nothing
	if err := c.Ping(ctx, nil); err == nil {
		t.Fatal("Ping succeeded with the server stopped")
	}
	if err := srv.Restart(); err != nil {
		t.Fatal(err)
	}
	// The client finds the server again by itself; the document must be
	// there once it does.
	deadline := time.Now().Add(30 * time.Second)
	for {
		var got bson.M
		err := coll.FindOne(ctx, bson.D{{Key: "_id", Value: "kept"}}).Decode(&got)
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after Restart: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
