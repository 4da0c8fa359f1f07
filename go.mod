module github.com/draylink/dray

go 1.26

require (
	github.com/google/uuid v1.6.0
	github.com/planetscale/vtprotobuf v0.6.0
	github.com/shopspring/decimal v1.4.0
	google.golang.org/protobuf v1.36.12
)
