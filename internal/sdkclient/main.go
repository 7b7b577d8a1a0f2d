// Command sdkclient is what an AWS Go SDK program does with rolecall: the
// SDK's default credential chain (here the container provider, from
// AWS_CONTAINER_CREDENTIALS_FULL_URI and
// AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE), then STS GetCallerIdentity. It
// prints the caller's ARN. The Windows end-to-end test builds it for
// Windows and runs it under wine; it is never linked into rolecall.
package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

func main() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		fmt.Fprintln(os.Stderr, "sdkclient: load config:", err)
		os.Exit(1)
	}
	out, err := sts.NewFromConfig(cfg).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		fmt.Fprintln(os.Stderr, "sdkclient: get caller identity:", err)
		os.Exit(1)
	}
	fmt.Println(*out.Arn)
}
