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
    public void KnownCredentialFormatsAreMasked(string input, string expected)
    {
        // Given / When
        var redacted = SecretRedactor.RedactText(input);

        // Then
        Assert.Equal(expected, redacted);
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
}
