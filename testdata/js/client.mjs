// The AWS SDK for JavaScript v3 resolving credentials with its default Node
// chain (which reads AWS_CONTAINER_CREDENTIALS_FULL_URI and the token file),
// or with "container-metadata" as argument fromContainerMetadata (which
// reads only AWS_CONTAINER_AUTHORIZATION_TOKEN), then calling STS
// GetCallerIdentity at STS_ENDPOINT. Prints the caller's ARN.
import { STSClient, GetCallerIdentityCommand } from "@aws-sdk/client-sts";
import { fromContainerMetadata, fromNodeProviderChain } from "@aws-sdk/credential-providers";

const client = new STSClient({
  region: "us-east-1",
  endpoint: process.env.STS_ENDPOINT,
  credentials: process.argv[2] === "container-metadata" ? fromContainerMetadata() : fromNodeProviderChain(),
});
try {
  const out = await client.send(new GetCallerIdentityCommand({}));
  console.log(JSON.stringify({ Arn: out.Arn }));
} catch (err) {
  console.error(`${err.name}: ${err.message}`);
  process.exit(1);
}
