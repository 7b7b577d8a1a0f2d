// The AWS SDK for JavaScript v2 (aws-sdk 2.x) resolving credentials with its
// default chain (RemoteCredentials reads AWS_CONTAINER_CREDENTIALS_FULL_URI
// and the token variables), then calling STS GetCallerIdentity at
// STS_ENDPOINT. Prints the caller's ARN.
require("aws-sdk/lib/maintenance_mode_message").suppress = true;
const AWS = require("aws-sdk");

const sts = new AWS.STS({ region: "us-east-1", endpoint: process.env.STS_ENDPOINT });
sts.getCallerIdentity({}, (err, out) => {
  if (err) {
    console.error(`${err.code}: ${err.message}`);
    process.exit(1);
  }
  console.log(JSON.stringify({ Arn: out.Arn }));
});
