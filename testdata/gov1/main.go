// Command gov1 is the AWS SDK for Go v1 (aws-sdk-go) as a client of
// rolecall's credential endpoint, for the external-clients test: it
// resolves credentials with the SDK's default chain (which reads
// AWS_CONTAINER_CREDENTIALS_FULL_URI and the token variables), calls STS
// GetCallerIdentity at $STS_ENDPOINT and prints {"Arn": ...}.
package main

import (
	"encoding/json"
	"fmt"
	"os"

	"github.com/aws/aws-sdk-go/aws"
	"github.com/aws/aws-sdk-go/aws/session"
	"github.com/aws/aws-sdk-go/service/sts"
)

func main() {
	sess, err := session.NewSession(&aws.Config{Region: aws.String("us-east-1"), Endpoint: aws.String(os.Getenv("STS_ENDPOINT"))})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	out, err := sts.New(sess).GetCallerIdentity(&sts.GetCallerIdentityInput{})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	json.NewEncoder(os.Stdout).Encode(map[string]string{"Arn": aws.StringValue(out.Arn)})
}
