package filedrop

import (
	"encoding/json"
	"fmt"

	"github.com/draylink/dray/plugins/filedrop/journal"
)

// cursorVersion is the version of the cursor's JSON form.
const cursorVersion = 1

// cursor is the position the agent commits with each batch. It is JSON:
//
//		{"v":1,"seq":42,"ctl":17,
//		 "done":[{"seq":41,"inbox":"edi","name":"x.edi","sha256":"…","out":"archived",
//		          "ctl":17,"acks":1,"x12":[{"key":"ZZ/XMPL/ZZ/ACMEFOODS/000007731","sha256":"…"}]},
//		         {"seq":42,"inbox":"wms","name":"bad.csv","sha256":"…","out":"quarantined",
//		          "code":"csv_missing_header","msg":"…","loc":"bad.csv:1:1"}],
//		 "cur":{"inbox":"wms","name":"big.csv","sha256":"…","off":1048576,"line":8812,"rec":8811}}
//
//	  - seq: every file finished with events (or a reject) gets the next
//	    sequence number; all files up to seq are committed. A restart from a
//	    cursor whose seq is below the journal's re-emits the later files from
//	    the archive (the agent lost those commits, or was handed an older
//	    cursor), with the same event ids.
//	  - ctl: the last 997 interchange control number used; never reused.
//	  - done: the files this batch finished. They are archived (or
//	    quarantined) right after the commit; a restart finishes any still in
//	    work/ without emitting them again.
//	  - cur: the file being read when the batch ended mid-file: its content
//	    hash and the position after the last committed record (byte offset
//	    and line for CSV and JSON lines, record index for every format). A
//	    restart resumes the file in work/ (or, while re-emitting, in the
//	    archive) with that hash there, and reads any other file from its start.
type cursor struct {
	V    int        `json:"v"`
	Seq  uint64     `json:"seq"`
	Ctl  uint64     `json:"ctl,omitempty"`
	Done []doneItem `json:"done,omitempty"`
	Cur  *curPos    `json:"cur,omitempty"`
}

// doneItem is a file a batch finished.
type doneItem struct {
	Seq      uint64                `json:"seq"`
	Inbox    string                `json:"inbox"`
	Name     string                `json:"name"`
	SHA256   string                `json:"sha256"`
	Outcome  string                `json:"out"`
	Code     string                `json:"code,omitempty"`
	Message  string                `json:"msg,omitempty"`
	Location string                `json:"loc,omitempty"`
	Ctl      uint64                `json:"ctl,omitempty"`
	Acks     int                   `json:"acks,omitempty"`
	X12      []journal.Interchange `json:"x12,omitempty"`
	Events   int                   `json:"events,omitempty"`
	Rejects  int                   `json:"rejects,omitempty"`

	replay bool // re-emitted from the archive: nothing to finish
}

// curPos is a position inside a file.
type curPos struct {
	Inbox  string `json:"inbox"`
	Name   string `json:"name"`
	SHA256 string `json:"sha256"`
	filePos
}

// filePos is the position after an item of a file.
type filePos struct {
	Off  int64 `json:"off,omitempty"`
	Line int   `json:"line,omitempty"`
	Rec  int   `json:"rec,omitempty"`
}

func decodeCursor(b []byte) (*cursor, error) {
	if len(b) == 0 {
		return nil, nil
	}
	var c cursor
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, fmt.Errorf("decode cursor %q: %w", clip(string(b), 200), err)
	}
	if c.V != cursorVersion {
		return nil, fmt.Errorf("decode cursor: version %d; this connector reads version %d", c.V, cursorVersion)
	}
	return &c, nil
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
