using System.Text;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace SessionMcp.SessionRouting.Text;

/// <summary>
/// Masks credentials before text reaches the audit log or a log line. Best effort by design: it recognises
/// well-known token formats and values assigned to secret-looking names, and prefers masking a harmless value
/// over leaking a real one.
/// </summary>
/// <remarks>
/// Name decisions (see <see cref="IsSecretName"/>): words are split on punctuation and camelCase.
/// Secret: anything containing SECRET, PASSWORD, PASSWD, PASSPHRASE, CREDENTIAL or COOKIE; a word TOKEN(S) or
/// ending in TOKEN (ACCESSTOKEN, HFTOKEN, but not TOKENIZERS); a word KEY(S) or a compound such as APIKEY or
/// PRIVATEKEY (so KEYBOARD_LAYOUT and MONKEY stay readable, while KEY_PATH-like names are masked); a word PWD or
/// ending in PWD, except the shell's own PWD and OLDPWD; a word starting or ending with AUTH (AUTHORIZATION,
/// OAUTH, BASICAUTH) except AUTHOR and AUTHORITY (GIT_AUTHOR_NAME is not a secret).
/// SESSION_ID is deliberately not secret: session ids are this server's routing keys and the audit log must show them.
/// </remarks>
internal static partial class SecretRedactor
{
    public const string Mask = "[REDACTED]";

    private static readonly string[] SecretFragments = ["SECRET", "PASSWORD", "PASSWD", "PASSPHRASE", "CREDENTIAL", "COOKIE"];

    private static readonly HashSet<string> SecretKeyCompounds = new(StringComparer.Ordinal)
    {
        "APIKEY", "ACCESSKEY", "SECRETKEY", "PRIVATEKEY", "SIGNINGKEY", "ENCRYPTIONKEY", "MASTERKEY", "LICENSEKEY", "SSHKEY",
    };

    private static readonly HashSet<string> NotAuthWords = new(StringComparer.Ordinal)
    {
        "AUTHOR", "AUTHORS", "AUTHORED", "AUTHORING", "AUTHORSHIP", "AUTHORITY", "AUTHORITIES", "AUTHORITATIVE",
    };

    public static bool IsSecretName(string name)
    {
        if (string.IsNullOrEmpty(name))
        {
            return false;
        }

        var upper = name.ToUpperInvariant();
        if (upper is "PWD" or "OLDPWD")
        {
            return false;
        }

        if (SecretFragments.Any(fragment => upper.Contains(fragment, StringComparison.Ordinal)))
        {
            return true;
        }

        foreach (var word in Words(name))
        {
            var secret = word switch
            {
                "TOKEN" or "TOKENS" or "KEY" or "KEYS" or "PWD" => true,
                _ when word.EndsWith("TOKEN", StringComparison.Ordinal) => true,
                _ when word.EndsWith("PWD", StringComparison.Ordinal) => true,
                _ when SecretKeyCompounds.Contains(word) => true,
                _ when (word.StartsWith("AUTH", StringComparison.Ordinal) || word.EndsWith("AUTH", StringComparison.Ordinal))
                       && !NotAuthWords.Contains(word) => true,
                _ => false,
            };
            if (secret)
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>Upper-cased words of an identifier: "x-apiKey" gives X, API, KEY; "APIKey" gives API, KEY.</summary>
    private static IEnumerable<string> Words(string name)
    {
        var word = new StringBuilder();
        for (var i = 0; i < name.Length; i++)
        {
            var c = name[i];
            if (!char.IsLetterOrDigit(c))
            {
                if (word.Length > 0)
                {
                    yield return word.ToString();
                    word.Clear();
                }

                continue;
            }

            var startsWord = word.Length > 0 && char.IsUpper(c)
                && (char.IsLower(name[i - 1]) || (i + 1 < name.Length && char.IsLower(name[i + 1]) && char.IsUpper(name[i - 1])));
            if (startsWord)
            {
                yield return word.ToString();
                word.Clear();
            }

            word.Append(char.ToUpperInvariant(c));
        }

        if (word.Length > 0)
        {
            yield return word.ToString();
        }
    }

    public static string RedactText(string text)
    {
        if (string.IsNullOrEmpty(text))
        {
            return text;
        }

        var result = PemPrivateKey().Replace(text, m => $"-----BEGIN {m.Groups["kind"].Value}PRIVATE KEY-----\n{Mask}\n-----END {m.Groups["kind"].Value}PRIVATE KEY-----");
        result = KnownTokenFormats().Replace(result, Mask);
        result = AuthorizationHeader().Replace(result, m => m.Groups["prefix"].Value + Mask);
        result = BearerToken().Replace(result, m => m.Groups["prefix"].Value + Mask);
        result = UrlPassword().Replace(result, m => m.Groups["prefix"].Value + Mask + "@");
        result = Assignment().Replace(result, m => MaskValueIfSecret(m, m.Groups["name"].Value));
        result = FlagWithValue().Replace(result, m => MaskValueIfSecret(m, m.Groups["name"].Value));
        return result;
    }

    private static string MaskValueIfSecret(Match match, string name)
    {
        var value = match.Groups["value"];
        if (!IsSecretName(name) || value.Value == Mask || value.Value.StartsWith('$'))
        {
            return match.Value; // a $VAR reference names a secret, it is not one
        }

        var quote = value.Value[0] is '"' or '\'' ? value.Value[0].ToString() : "";
        var masked = quote + Mask + quote;
        var start = value.Index - match.Index;
        return string.Concat(match.Value.AsSpan(0, start), masked, match.Value.AsSpan(start + value.Length));
    }

    public static IReadOnlyDictionary<string, string> RedactEnv(IReadOnlyDictionary<string, string> env)
    {
        ArgumentNullException.ThrowIfNull(env);
        var redacted = new Dictionary<string, string>(env.Count, StringComparer.Ordinal);
        foreach (var (name, value) in env)
        {
            redacted[name] = RedactEnvValue(name, value);
        }

        return redacted;
    }

    private static string RedactEnvValue(string name, string value) =>
        IsSecretName(name) && !string.IsNullOrEmpty(value) ? Mask : RedactText(value);

    /// <summary>
    /// A redacted deep copy: string values of secret-named properties are masked, an "env" object is treated like
    /// an environment, and every other string goes through <see cref="RedactText"/>.
    /// </summary>
    public static JsonNode? RedactJson(JsonNode? node) => Redact(node, maskStrings: false);

    private static JsonNode? Redact(JsonNode? node, bool maskStrings)
    {
        switch (node)
        {
            case null:
                return null;
            case JsonObject obj:
                var copy = new JsonObject();
                foreach (var (name, value) in obj)
                {
                    var secret = maskStrings || IsSecretName(name);
                    copy[name] = string.Equals(name, "env", StringComparison.OrdinalIgnoreCase) && value is JsonObject env && !secret
                        ? RedactEnvObject(env)
                        : Redact(value, secret);
                }

                return copy;
            case JsonArray array:
                var items = new JsonArray();
                foreach (var item in array)
                {
                    items.Add(Redact(item, maskStrings));
                }

                return items;
            case JsonValue value when value.TryGetValue<string>(out var text):
                return JsonValue.Create(maskStrings && text.Length > 0 ? Mask : RedactText(text));
            default:
                return node.DeepClone();
        }
    }

    private static JsonObject RedactEnvObject(JsonObject env)
    {
        var copy = new JsonObject();
        foreach (var (name, value) in env)
        {
            copy[name] = value is JsonValue v && v.TryGetValue<string>(out var text)
                ? JsonValue.Create(RedactEnvValue(name, text))
                : Redact(value, IsSecretName(name));
        }

        return copy;
    }

    [GeneratedRegex(@"-----BEGIN (?<kind>[A-Z0-9 ]*)PRIVATE KEY-----(?:[\s\S]*?-----END [A-Z0-9 ]*PRIVATE KEY-----|[\s\S]*\z)")]
    private static partial Regex PemPrivateKey();

    [GeneratedRegex(
        @"\b(?:AKIA|ASIA)[A-Z0-9]{16}\b" +
        @"|\bgh[pousr]_[A-Za-z0-9]{20,255}\b" +
        @"|\bgithub_pat_[A-Za-z0-9_]{20,255}\b" +
        @"|\bglpat-[A-Za-z0-9_\-]{20,}" +
        @"|\bxox[abprs]-[A-Za-z0-9\-]{10,}" +
        @"|\bsk-(?:ant-|proj-)?[A-Za-z0-9_\-]{20,}" +
        @"|\bAIza[0-9A-Za-z_\-]{35}" +
        @"|\b(?:sk|rk)_(?:live|test)_[0-9A-Za-z]{16,}" +
        @"|\beyJ[A-Za-z0-9_\-]{5,}\.eyJ[A-Za-z0-9_\-]{5,}\.[A-Za-z0-9_\-]*")]
    private static partial Regex KnownTokenFormats();

    [GeneratedRegex(@"(?<prefix>\b(?:proxy-)?authorization[""']?\s*[:=]\s*[""']?(?:(?:bearer|basic|token|bot|digest|negotiate|ntlm)\s+)?)[^\s""',;]+", RegexOptions.IgnoreCase)]
    private static partial Regex AuthorizationHeader();

    [GeneratedRegex(@"(?<prefix>\bbearer\s+)(?!\[REDACTED\])[A-Za-z0-9\-._~+/]{16,}=*", RegexOptions.IgnoreCase)]
    private static partial Regex BearerToken();

    [GeneratedRegex(@"(?<prefix>\b[A-Za-z][A-Za-z0-9+.\-]*://[^\s:/@'""]*:)(?!\[REDACTED\]@)[^\s/@'""]+@")]
    private static partial Regex UrlPassword();

    // name=value, name: value, "name": "value"; an unquoted value followed by "(" is a call, not a secret.
    [GeneratedRegex(@"(?<name>[A-Za-z_][A-Za-z0-9_.\-]*)[""']?\s*[:=]\s*(?<value>\[REDACTED\]|""(?:[^""\\\n]|\\.)*""|'[^'\n]*'|(?!(?i:bearer|basic|token|bot|digest|negotiate|ntlm)\s)(?>[^\s=>{\[(;&|,""'`)}\]][^\s;&|,""'`(){}\[\]]*)(?!\())")]
    private static partial Regex Assignment();

    [GeneratedRegex(@"(?<!\S)--(?<name>[A-Za-z][A-Za-z0-9_\-]*)\s+(?<value>""(?:[^""\\\n]|\\.)*""|'[^'\n]*'|[^\s\-][^\s]*)")]
    private static partial Regex FlagWithValue();

    /// <summary>
    /// Masks known secret values (a session's API_TOKEN...) wherever they appear, raw or JSON-escaped. Values shorter
    /// than 4 characters are left alone: masking "1" or "yes" everywhere would destroy the log, not protect a secret.
    /// </summary>
    public static string RedactValues(string text, IEnumerable<string> values)
    {
        foreach (var value in values.Where(v => v.Length >= 4).Distinct().OrderByDescending(v => v.Length))
        {
            text = text.Replace(value, Mask, StringComparison.Ordinal);
            var escaped = System.Text.Json.JsonEncodedText.Encode(value, System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping).ToString();
            if (escaped != value)
            {
                text = text.Replace(escaped, Mask, StringComparison.Ordinal);
            }
            var strictlyEscaped = System.Text.Json.JsonEncodedText.Encode(value).ToString();
            if (strictlyEscaped != value && strictlyEscaped != escaped)
            {
                text = text.Replace(strictlyEscaped, Mask, StringComparison.Ordinal);
            }
        }
        return text;
    }
}
