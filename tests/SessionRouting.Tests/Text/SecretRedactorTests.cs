using System.Text.Json.Nodes;
using SessionMcp.SessionRouting.Text;

namespace SessionMcp.SessionRouting.Tests.Text;

public sealed class SecretRedactorTests
{
    private const string Mask = SecretRedactor.Mask;

    [Theory]
    [InlineData("API_TOKEN")]
    [InlineData("GITHUB_TOKEN")]
    [InlineData("accessToken")]
    [InlineData("HFTOKEN")]
    [InlineData("DB_PASSWORD")]
    [InlineData("MYSQL_PWD")]
    [InlineData("passwd")]
    [InlineData("CLIENT_SECRET")]
    [InlineData("OPENAI_API_KEY")]
    [InlineData("apiKey")]
    [InlineData("x-api-key")]
    [InlineData("apikey")]
    [InlineData("PRIVATE_KEY")]
    [InlineData("AWS_SECRET_ACCESS_KEY")]
    [InlineData("GOOGLE_APPLICATION_CREDENTIALS")]
    [InlineData("Authorization")]
    [InlineData("OAUTH_CLIENT")]
    [InlineData("BASIC_AUTH")]
    [InlineData("Cookie")]
    [InlineData("SESSION_TOKEN")]
    [InlineData("DB_PASS")]
    [InlineData("smtpPass")]
    [InlineData("MYSQLPASS")]
    [InlineData("AWS_CREDS")]
    [InlineData("GIT_CRED")]
    [InlineData("GH_PAT")]
    [InlineData("sig")]
    [InlineData("X-Amz-Signature")]
    public void SecretLookingNamesAreRecognised(string name)
    {
        // Given / When / Then
        Assert.True(SecretRedactor.IsSecretName(name));
    }

    [Theory]
    [InlineData("PATH")]
    [InlineData("PWD")]
    [InlineData("OLDPWD")]
    [InlineData("HOME")]
    [InlineData("KEYBOARD_LAYOUT")]
    [InlineData("MONKEY")]
    [InlineData("TOKENIZERS_PARALLELISM")]
    [InlineData("GIT_AUTHOR_NAME")]
    [InlineData("GIT_AUTHOR_EMAIL")]
    [InlineData("session_id")]
    [InlineData("command")]
    [InlineData("BYPASS_CACHE")]
    [InlineData("COMPASS_HEADING")]
    [InlineData("pass")]
    [InlineData("")]
    public void OrdinaryNamesAreNotSecret(string name)
    {
        // Given / When / Then
        Assert.False(SecretRedactor.IsSecretName(name));
    }

    [Theory]
    [InlineData("key AKIAIOSFODNN7EXAMPLE here", "key [REDACTED] here")]
    [InlineData("ASIAY34FZKBOKMUTVV7A", Mask)]
    [InlineData("token ghp_abcdefghijklmnopqrstuvwxyz0123456789", "token [REDACTED]")]
    [InlineData("gho_abcdefghijklmnopqrstuvwxyz0123456789", Mask)]
    [InlineData("ghu_abcdefghijklmnopqrstuvwxyz0123456789", Mask)]
    [InlineData("ghs_abcdefghijklmnopqrstuvwxyz0123456789", Mask)]
    [InlineData("ghr_abcdefghijklmnopqrstuvwxyz0123456789", Mask)]
    [InlineData("github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz", Mask)]
    [InlineData("glpat-abcdefghij0123456789", Mask)]
    [InlineData("xoxb-1234567890-abcdefghij", Mask)]
    [InlineData("xoxp-1234567890-abcdefghij", Mask)]
    [InlineData("sk-abcdefghijklmnopqrstuvwxyz012345", Mask)]
    [InlineData("sk-proj-abcdefghijklmnopqrstuvwxyz012345", Mask)]
    [InlineData("sk-ant-api03-abcdefghijklmnopqrstuvwxyz_0123456789-abc", Mask)]
    [InlineData("AIzaSyA1234567890abcdefghijklmnopqrstuv", Mask)]
    [InlineData("stripe sk_live_abcdefghijklmnop1234 rk_live_abcdefghijklmnop1234", "stripe [REDACTED] [REDACTED]")]
    [InlineData("jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U done", "jwt [REDACTED] done")]
    [InlineData("Authorization: Bearer abc.def-ghi", "Authorization: Bearer [REDACTED]")]
    [InlineData("curl -H 'Authorization: Basic dXNlcjpwYXNz' x", "curl -H 'Authorization: Basic [REDACTED]' x")]
    [InlineData("authorization=token123", "authorization=[REDACTED]")]
    [InlineData("got bearer abcdefghijklmnopqrstuvwxyz from server", "got bearer [REDACTED] from server")]
    [InlineData("git clone https://user:hunter2@github.com/o/r.git", "git clone https://user:[REDACTED]@github.com/o/r.git")]
    [InlineData("postgres://app:s3cr3t@db:5432/app", "postgres://app:[REDACTED]@db:5432/app")]
    [InlineData("API_TOKEN=abc", "API_TOKEN=[REDACTED]")]
    [InlineData("export DB_PASSWORD='x y' && run", "export DB_PASSWORD='[REDACTED]' && run")]
    [InlineData("export DB_PASSWORD=\"x y\"", "export DB_PASSWORD=\"[REDACTED]\"")]
    [InlineData("mysql --password=abc -u root", "mysql --password=[REDACTED] -u root")]
    [InlineData("docker login --password hunter2 registry", "docker login --password [REDACTED] registry")]
    [InlineData("{\"user\": \"bob\", \"password\": \"a\\\"b\"}", "{\"user\": \"bob\", \"password\": \"[REDACTED]\"}")]
    [InlineData("client_secret: abc123", "client_secret: [REDACTED]")]
    [InlineData("Server=db;User Id=sa;Password=Pa55;", "Server=db;User Id=sa;Password=[REDACTED];")]
    [InlineData("env: DB_PASSWORD=x", "env: DB_PASSWORD=[REDACTED]")]
    [InlineData("export SMTP_PASS=hunter2 AWS_CREDS=a:b", "export SMTP_PASS=[REDACTED] AWS_CREDS=[REDACTED]")]
    public void KnownCredentialFormatsAreMasked(string input, string expected)
    {
        // Given / When
        var redacted = SecretRedactor.RedactText(input);

        // Then
        Assert.Equal(expected, redacted);
    }

    [Theory]
    [InlineData("hf_abcdefghijklmnopqrstuvwxyzABCDEFGH", Mask)]
    [InlineData("//registry.npmjs.org/:_authToken=npm_abcdefghijklmnopqrstuvwxyz0123456789", "//registry.npmjs.org/:_authToken=[REDACTED]")]
    [InlineData("npm_abcdefghijklmnopqrstuvwxyz0123456789", Mask)]
    [InlineData("glrt-abcdefghij0123456789ab", Mask)]
    [InlineData("ya29.a0AfH6SMBabcdefghijklmnopqrstuvwxyz", Mask)]
    [InlineData("whsec_abcdefghijklmnopqrstuvwxyz", Mask)]
    [InlineData("SG.abcdefghijklmnopqrstuv.abcdefghijklmnopqrstuvwxyz0123456789abcdefg", Mask)]
    [InlineData("POST https://hooks.slack.com/services/T0000/B0000/XXXXXXXXXXXXXXXX ok", "POST https://[REDACTED] ok")]
    [InlineData("DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=abc+def/ghi==;EndpointSuffix=core.windows.net",
        "DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=[REDACTED];EndpointSuffix=core.windows.net")]
    [InlineData("https://acct.blob.core.windows.net/c/f?sv=2022-11-02&sig=AbC%2Bdef%3D", "https://acct.blob.core.windows.net/c/f?sv=2022-11-02&sig=[REDACTED]")]
    public void MoreTokenFormatsAreMasked(string input, string expected)
    {
        // Given / When
        var redacted = SecretRedactor.RedactText(input);

        // Then
        Assert.Equal(expected, redacted);
    }

    [Theory]
    [InlineData("curl -u deploy:hunter2 https://x", "curl -u deploy:[REDACTED] https://x")]
    [InlineData("curl --user 'deploy:hunter2' https://x", "curl --user 'deploy:[REDACTED]' https://x")]
    [InlineData("curl -udeploy:hunter2 https://x", "curl -udeploy:[REDACTED] https://x")]
    [InlineData("curl --proxy-user=me:pw -x proxy https://x", "curl --proxy-user=me:[REDACTED] -x proxy https://x")]
    [InlineData("mysql -h db -u root -pS3cret app", "mysql -h db -u root -p[REDACTED] app")]
    [InlineData("mysqldump -uroot -p'a b' app > dump.sql", "mysqldump -uroot -p'[REDACTED]' app > dump.sql")]
    [InlineData("mysql --password=S3cret app", "mysql --password=[REDACTED] app")]
    [InlineData("sshpass -p hunter2 ssh deploy@host", "sshpass -p [REDACTED] ssh deploy@host")]
    [InlineData("docker login -u ci -p hunter2 registry.example.com", "docker login -u ci -p [REDACTED] registry.example.com")]
    [InlineData("docker login --password hunter2 registry", "docker login --password [REDACTED] registry")]
    [InlineData("machine api.example.com login bob password hunter2", "machine api.example.com login bob password [REDACTED]")]
    public void CredentialsOnCommonCommandLinesAreMasked(string input, string expected)
    {
        // Given / When
        var redacted = SecretRedactor.RedactText(input);

        // Then
        Assert.Equal(expected, redacted);
    }

    [Theory]
    [InlineData("docker run -u 1000:1000 image")]
    [InlineData("docker run -u app:app image")]
    [InlineData("mkdir -p build/out && ssh -p 22 host")]
    [InlineData("mysql -u root -p app")]
    [InlineData("docker login -u ci --password-stdin registry")]
    [InlineData("git push -u origin main")]
    public void CommandLinesWithoutCredentialsAreLeftAlone(string text)
    {
        // Given / When / Then
        Assert.Equal(text, SecretRedactor.RedactText(text));
    }

    [Theory]
    [InlineData("-----BEGIN PGP PRIVATE KEY BLOCK-----\n\nlQOYBGN0\n=abcd\n-----END PGP PRIVATE KEY BLOCK-----",
        "-----BEGIN PGP PRIVATE KEY BLOCK-----\n[REDACTED]\n-----END PGP PRIVATE KEY BLOCK-----")]
    [InlineData("-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXk\n-----END OPENSSH PRIVATE KEY-----\n",
        "-----BEGIN OPENSSH PRIVATE KEY-----\n[REDACTED]\n-----END OPENSSH PRIVATE KEY-----\n")]
    [InlineData("a -----BEGIN ENCRYPTED PRIVATE KEY-----\nMIIFHz\n-----END ENCRYPTED PRIVATE KEY----- b",
        "a -----BEGIN ENCRYPTED PRIVATE KEY-----\n[REDACTED]\n-----END ENCRYPTED PRIVATE KEY----- b")]
    [InlineData("{\"private_key\": \"-----BEGIN PRIVATE KEY-----\\nMIIEvQ\\n-----END PRIVATE KEY-----\\n\"}",
        "{\"private_key\": \"-----BEGIN PRIVATE KEY-----\n[REDACTED]\n-----END PRIVATE KEY-----\\n\"}")]
    public void PrivateKeyBlocksOfEveryArmourAreMasked(string input, string expected)
    {
        // Given / When
        var redacted = SecretRedactor.RedactText(input);

        // Then
        Assert.Equal(expected, redacted);
    }

    [Fact]
    public void CertificatesAndPublicKeysAreNotMasked()
    {
        // Given
        var text = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n-----BEGIN PGP PUBLIC KEY BLOCK-----\nmQIN\n-----END PGP PUBLIC KEY BLOCK-----";

        // When / Then
        Assert.Equal(text, SecretRedactor.RedactText(text));
    }

    [Fact]
    public void PemPrivateKeyBlocksAreMasked()
    {
        // Given
        var text = "before\n-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA\nabcdef==\n-----END RSA PRIVATE KEY-----\nafter";

        // When
        var redacted = SecretRedactor.RedactText(text);

        // Then
        Assert.Equal("before\n-----BEGIN RSA PRIVATE KEY-----\n[REDACTED]\n-----END RSA PRIVATE KEY-----\nafter", redacted);
    }

    [Fact]
    public void ATruncatedPemBlockIsMaskedToTheEnd()
    {
        // Given
        var text = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAA";

        // When
        var redacted = SecretRedactor.RedactText(text);

        // Then
        Assert.DoesNotContain("b3Blbn", redacted);
    }

    [Theory]
    [InlineData("PATH=/usr/bin:/bin")]
    [InlineData("KEYBOARD_LAYOUT=us")]
    [InlineData("GIT_AUTHOR_NAME=Ada")]
    [InlineData("export GITHUB_TOKEN=$(cat ~/.token)")]
    [InlineData("echo $API_TOKEN")]
    [InlineData("API_TOKEN=${API_TOKEN}")]
    [InlineData("if token == expected:")]
    [InlineData("token = read_token()")]
    [InlineData("error: file not found")]
    [InlineData("https://example.com:8080/path")]
    [InlineData("a basic description of the task-runner")]
    [InlineData("Authorization: [REDACTED]")]
    public void OrdinaryTextIsLeftAlone(string text)
    {
        // Given / When / Then
        Assert.Equal(text, SecretRedactor.RedactText(text));
    }

    [Fact]
    public void RedactingTwiceChangesNothingMore()
    {
        // Given
        var text = "API_TOKEN=abc https://u:p@h Authorization: Bearer xyz \"password\": \"q\"";

        // When
        var once = SecretRedactor.RedactText(text);
        var twice = SecretRedactor.RedactText(once);

        // Then
        Assert.Equal(once, twice);
    }

    [Fact]
    public void EnvironmentValuesOfSecretNamesAreMaskedAndOthersScanned()
    {
        // Given
        var env = new Dictionary<string, string>
        {
            ["PATH"] = "/usr/bin",
            ["OPENAI_API_KEY"] = "anything",
            ["EMPTY_TOKEN"] = "",
            ["NOTES"] = "use ghp_abcdefghijklmnopqrstuvwxyz0123456789",
        };

        // When
        var redacted = SecretRedactor.RedactEnv(env);

        // Then
        Assert.Equal("/usr/bin", redacted["PATH"]);
        Assert.Equal(Mask, redacted["OPENAI_API_KEY"]);
        Assert.Equal("", redacted["EMPTY_TOKEN"]);
        Assert.Equal("use [REDACTED]", redacted["NOTES"]);
        Assert.Equal("anything", env["OPENAI_API_KEY"]); // the input is not touched
    }

    [Fact]
    public void JsonArgumentsAreRedactedDeeplyIntoACopy()
    {
        // Given
        var arguments = JsonNode.Parse("""
            {
              "session_id": "s-123",
              "command": "curl -H 'Authorization: Bearer abcdef' https://api",
              "env": { "PATH": "/bin", "DB_PASSWORD": "pw", "URL": "https://u:pw@h/" },
              "password": "top",
              "timeout": 30,
              "files": [ { "path": "a", "api_key": "k1" }, "ghp_abcdefghijklmnopqrstuvwxyz0123456789" ],
              "credentials": { "user": "bob", "port": 22 }
            }
            """);

        // When
        var redacted = SecretRedactor.RedactJson(arguments)!;

        // Then
        Assert.Equal("s-123", (string?)redacted["session_id"]);
        Assert.Equal("curl -H 'Authorization: Bearer [REDACTED]' https://api", (string?)redacted["command"]);
        Assert.Equal("/bin", (string?)redacted["env"]!["PATH"]);
        Assert.Equal(Mask, (string?)redacted["env"]!["DB_PASSWORD"]);
        Assert.Equal("https://u:[REDACTED]@h/", (string?)redacted["env"]!["URL"]);
        Assert.Equal(Mask, (string?)redacted["password"]);
        Assert.Equal(30, (int)redacted["timeout"]!);
        Assert.Equal("a", (string?)redacted["files"]![0]!["path"]);
        Assert.Equal(Mask, (string?)redacted["files"]![0]!["api_key"]);
        Assert.Equal(Mask, (string?)redacted["files"]![1]);
        Assert.Equal(Mask, (string?)redacted["credentials"]!["user"]);
        Assert.Equal(22, (int)redacted["credentials"]!["port"]!);
        Assert.Equal("top", (string?)arguments!["password"]); // the original is untouched
    }

    [Fact]
    public void NullJsonStaysNull()
    {
        // Given / When / Then
        Assert.Null(SecretRedactor.RedactJson(null));
    }

    [Fact]
    public void ASecretInASessionNameIsMaskedWithTheArguments()
    {
        // Given session_create's arguments, named after the token that was pasted into the chat
        var arguments = JsonNode.Parse("""{ "backend": "local", "name": "deploy with ghp_abcdefghijklmnopqrstuvwxyz0123456789" }""");

        // When
        var redacted = SecretRedactor.RedactJson(arguments)!;

        // Then
        Assert.Equal("local", (string?)redacted["backend"]);
        Assert.Equal("deploy with [REDACTED]", (string?)redacted["name"]);
    }

    [Theory]
    [InlineData("ghp_abcdefghijklmnopqrstuvwxyz0123456789", Mask)]
    [InlineData("session_exec", "session_exec")]
    [InlineData("API_TOKEN=abc", "API_TOKEN=[REDACTED]")]
    public void ABogusToolNameIsRedactedAsText(string toolName, string expected)
    {
        // Given / When / Then
        Assert.Equal(expected, SecretRedactor.RedactText(toolName));
    }

    [Theory]
    [InlineData("curl")]
    [InlineData("exit_code")]
    [InlineData("Release")]
    [InlineData("main-branch")]
    [InlineData("STAGING.EU")]
    [InlineData("yes")]
    public void ShortOrPlainValuesCannotBeSecrets(string value)
    {
        // Given / When / Then
        Assert.False(SecretRedactor.CouldBeSecret(value));
    }

    [Theory]
    [InlineData("supersecret123")]
    [InlineData("hunter2!x")]
    [InlineData("aB3dE6gH")]
    [InlineData("Tr0ub4dor&3")]
    [InlineData("correcthorsebatterystaple")]
    public void ValuesWithDigitsSymbolsMixedCaseOrPassphraseLengthCouldBeSecrets(string value)
    {
        // Given / When / Then
        Assert.True(SecretRedactor.CouldBeSecret(value));
    }

    [Fact]
    public void CommonShortValuesOfSecretNamesDoNotBlindTheLog()
    {
        // Given a session with DEPLOY_TOKEN=curl and X_PASSWORD=exit_code
        string[] known = ["curl", "exit_code"];
        var output = JsonNode.Parse("""{ "exit_code": 0, "stdout": "curl -fsS https://example.com; echo exit_code=$?" }""");

        // When
        var redacted = SecretRedactor.RedactJson(output, known)!;

        // Then
        Assert.Equal(output!.ToJsonString(), redacted.ToJsonString());
        Assert.Equal("curl -fsS https://example.com", SecretRedactor.RedactValues("curl -fsS https://example.com", known));
    }

    [Fact]
    public void KnownSecretValuesAreMaskedInStringValuesButNeverInPropertyNames()
    {
        // Given a secret value that is also a property name of the output
        string[] known = ["status_2024"];
        var output = JsonNode.Parse("""{ "status_2024": "ok", "stdout": "token is status_2024", "lines": ["x status_2024 y"] }""");

        // When
        var redacted = SecretRedactor.RedactJson(output, known)!;

        // Then
        Assert.Equal("ok", (string?)redacted["status_2024"]);
        Assert.Equal("token is [REDACTED]", (string?)redacted["stdout"]);
        Assert.Equal("x [REDACTED] y", (string?)redacted["lines"]![0]);
    }

    [Fact]
    public void KnownSecretValuesAreMaskedRawAndJsonEscapedInPlainText()
    {
        // Given
        string[] known = ["pa\"ss/w0rd"];
        var text = "raw pa\"ss/w0rd, escaped {\"p\":\"pa\\\"ss/w0rd\"}";

        // When
        var redacted = SecretRedactor.RedactValues(text, known);

        // Then
        Assert.Equal("raw [REDACTED], escaped {\"p\":\"[REDACTED]\"}", redacted);
    }

    public static TheoryData<string, string> AdversarialShapes => new()
    {
        { "one word", "a" },
        { "identifier run", "a_b-c9" },
        { "assignment chain", "a=" },
        { "dotted run", "a." },
        { "base64 without terminator", "QUJDRGVmZ2hpams+/" },
        { "BEGIN without END", "-----BEGIN RSA PRIVATE KEY-----\n" },
        { "BEGIN of a certificate", "-----BEGIN CERTIFICATE-----\n" },
        { "url user without @", "https://user:" },
        { "Bearer without token", "Bearer " },
        { "JWT-like", "eyJabcdef-" },
        { "token prefix", "glpat-" },
        { "flags", "--a " },
        { "JSON keys", "\"k\":\"" },
        { "secret assignments", "token: x " },
        { "mysql without -p", "mysql " },
        { "user option", " -u a:" },
        { "netrc", "login a password " },
    };

    [Theory]
    [MemberData(nameof(AdversarialShapes))]
    public async Task RedactionOfAdversarialTextIsLinear(string shape, string unit)
    {
        // Given 4 MiB of one shape on one line: a quadratic pattern takes minutes to hours on this, a linear one well under a second
        var text = new System.Text.StringBuilder();
        while (text.Length < 4 * 1024 * 1024)
        {
            text.Append(unit);
        }
        var input = text.ToString();

        // When
        var redaction = Task.Run(() => SecretRedactor.RedactText(input));

        // Then: a generous bound (TimeoutException fails the test), since the machine is shared; the benchmark has the figures
        var redacted = await redaction.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.True(redacted.Length > 0, shape);
    }
}
