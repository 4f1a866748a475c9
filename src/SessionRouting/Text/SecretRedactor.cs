using System.Buffers;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace SessionMcp.SessionRouting.Text;

/// <summary>
/// Masks credentials before text reaches the audit log or a log line. Best effort by design: it recognises
/// well-known token formats and values assigned to secret-looking names, and prefers masking a harmless value
/// over leaking a real one.
/// </summary>
/// <remarks>
/// <para>
/// Cost: linear in the input. Every pattern runs on <see cref="RegexOptions.NonBacktracking"/> (no lookarounds,
/// atomic groups or backreferences; what those did is decided in the match evaluators instead), and private-key
/// blocks are found by a scanner, because one output line can be a multi-megabyte minified bundle.
/// </para>
/// <para>
/// Name decisions (see <see cref="IsSecretName"/>): words are split on punctuation and camelCase.
/// Secret: anything containing SECRET, PASSWORD, PASSWD, PASSPHRASE, CREDENTIAL or COOKIE; a word TOKEN(S) or
/// ending in TOKEN (ACCESSTOKEN, HFTOKEN, but not TOKENIZERS); a word KEY(S) or a compound such as APIKEY or
/// PRIVATEKEY (so KEYBOARD_LAYOUT and MONKEY stay readable, while KEY_PATH-like names are masked); a word PWD or
/// ending in PWD, except the shell's own PWD and OLDPWD; a word starting or ending with AUTH (AUTHORIZATION,
/// OAUTH, BASICAUTH) except AUTHOR and AUTHORITY (GIT_AUTHOR_NAME is not a secret); a word CRED(S) or ending in
/// CREDS (AWSCREDS); a word ending in PASS (DBPASS, SMTP_PASS) except BYPASS, COMPASS and kin, but not the bare
/// name PASS (a test summary's "pass: 12"); a word PAT (GH_PAT), SIG or SIGNATURE (signed URLs, Azure SAS).
/// SESSION_ID is deliberately not secret: session ids are this server's routing keys and the audit log must show them.
/// </para>
/// </remarks>
internal static partial class SecretRedactor
{
    public const string Mask = "[REDACTED]";

    /// <summary>Shorter known values are never masked by value: "curl" or "1" everywhere would destroy the log.</summary>
    public const int MinMaskedValueLength = 8;

    /// <summary>From this length even a plain lower-case value is masked by value: it reads like a passphrase.</summary>
    public const int PassphraseLength = 24;

    private static readonly string[] SecretFragments = ["SECRET", "PASSWORD", "PASSWD", "PASSPHRASE", "CREDENTIAL", "COOKIE"];

    private static readonly HashSet<string> SecretKeyCompounds = new(StringComparer.Ordinal)
    {
        "APIKEY", "ACCESSKEY", "SECRETKEY", "PRIVATEKEY", "SIGNINGKEY", "ENCRYPTIONKEY", "MASTERKEY", "LICENSEKEY", "SSHKEY",
    };

    private static readonly HashSet<string> NotAuthWords = new(StringComparer.Ordinal)
    {
        "AUTHOR", "AUTHORS", "AUTHORED", "AUTHORING", "AUTHORSHIP", "AUTHORITY", "AUTHORITIES", "AUTHORITATIVE",
    };

    private static readonly HashSet<string> NotPassWords = new(StringComparer.Ordinal)
    {
        "BYPASS", "COMPASS", "ENCOMPASS", "SURPASS", "TRESPASS", "OVERPASS", "UNDERPASS", "MULTIPASS", "ONEPASS", "TWOPASS", "SINGLEPASS",
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

        var words = Words(name).ToList();
        foreach (var word in words)
        {
            var secret = word switch
            {
                "TOKEN" or "TOKENS" or "KEY" or "KEYS" or "PWD" or "CRED" or "CREDS" or "PAT" or "SIG" or "SIGNATURE" => true,
                "PASS" => words.Count > 1,
                _ when word.EndsWith("TOKEN", StringComparison.Ordinal) => true,
                _ when word.EndsWith("PWD", StringComparison.Ordinal) => true,
                _ when word.EndsWith("CREDS", StringComparison.Ordinal) => true,
                _ when word.EndsWith("PASS", StringComparison.Ordinal) && !NotPassWords.Contains(word) => true,
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

        // A pattern whose literal part is absent is not run at all: a vectorised search is many times faster than
        // any regex pass over megabytes of build output.
        var result = MaskPrivateKeyBlocks(text);
        result = KnownTokenFormats().Replace(result, Mask);
        if (result.Contains("authorization", StringComparison.OrdinalIgnoreCase))
        {
            result = AuthorizationHeader().Replace(result, m => m.Groups["prefix"].Value + Mask);
        }

        if (result.Contains("bearer", StringComparison.OrdinalIgnoreCase))
        {
            result = BearerToken().Replace(result, m => m.Groups["prefix"].Value + Mask);
        }

        if (result.Contains("://", StringComparison.Ordinal))
        {
            result = UrlPassword().Replace(result, m => MaskGroup(m, "value"));
        }

        if (result.Contains("-u", StringComparison.OrdinalIgnoreCase))
        {
            result = UserOption().Replace(result, m => IsUidGid(m) ? m.Value : MaskGroup(m, "value"));
        }

        if (result.Contains("-p", StringComparison.Ordinal) || result.Contains("password", StringComparison.Ordinal))
        {
            result = CommandPassword().Replace(result, m => MaskGroup(m, "value"));
        }

        if (result.AsSpan().IndexOfAny(':', '=') >= 0)
        {
            result = MaskMatches(result, Assignment(), AssignedSecret);
        }

        if (result.Contains("--", StringComparison.Ordinal))
        {
            result = MaskMatches(result, FlagWithValue(), FlagSecret);
        }

        return result;
    }

    /// <summary>Which part of one match to mask, or null to keep it.</summary>
    private delegate Range? ValueToMask(ReadOnlySpan<char> match);

    /// <summary>
    /// Masks what <paramref name="valueToMask"/> picks in each match. The matches are enumerated without captures:
    /// on NonBacktracking, captures cost a third pass over every match, three times the search itself when the
    /// matches are dense (a generated config, a bundle); the evaluators read the simple shapes of their patterns instead.
    /// </summary>
    private static string MaskMatches(string text, Regex pattern, ValueToMask valueToMask)
    {
        StringBuilder? result = null;
        var copied = 0;
        foreach (var match in pattern.EnumerateMatches(text))
        {
            if (valueToMask(text.AsSpan(match.Index, match.Length)) is not { } range)
            {
                continue;
            }

            var (offset, length) = range.GetOffsetAndLength(match.Length);
            var value = text.AsSpan(match.Index + offset, length);
            if (value.Contains(Mask, StringComparison.Ordinal))
            {
                continue;
            }

            var quote = value[0] is '"' or '\'' ? value[..1] : [];
            result ??= new StringBuilder(text.Length);
            result.Append(text, copied, match.Index + offset - copied).Append(quote).Append(Mask).Append(quote);
            copied = match.Index + offset + length;
        }

        return result is null ? text : result.Append(text, copied, text.Length - copied).ToString();
    }

    /// <summary>
    /// The value of a <see cref="Assignment"/> match — name, optional quote, separator, value, then optionally "(" or one
    /// blank — if the name is secret. An unquoted value followed by "(" is a call (token = read_token()), and
    /// "Authorization: Bearer" names a scheme; a $VAR reference names a secret, it is not one.
    /// </summary>
    private static Range? AssignedSecret(ReadOnlySpan<char> match)
    {
        var nameEnd = match.IndexOfAnyExcept(NameCharacters);
        var start = nameEnd + (match[nameEnd] is '"' or '\'' ? 1 : 0);
        start += CountBlanks(match[start..]) + 1; // the ':' or '='
        start += CountBlanks(match[start..]);
        var end = match.Length;
        if (match[^1] == '(')
        {
            return null;
        }

        if (char.IsWhiteSpace(match[^1]) && AuthSchemes.Contains(match[start..--end].ToString(), StringComparer.OrdinalIgnoreCase))
        {
            return null;
        }

        return IsSecretName(match[..nameEnd].ToString()) && match[start] != '$' ? start..end : null;
    }

    private static readonly string[] AuthSchemes = ["bearer", "basic", "token", "bot", "digest", "negotiate", "ntlm"];

    /// <summary>
    /// The value of a <see cref="FlagWithValue"/> match — optional blank, "--", name, blanks, value — if the name is secret.
    /// docker login --password-stdin takes no value: the word after it is the registry.
    /// </summary>
    private static Range? FlagSecret(ReadOnlySpan<char> match)
    {
        var nameStart = (char.IsWhiteSpace(match[0]) ? 1 : 0) + 2;
        var nameEnd = nameStart + match[nameStart..].IndexOfAnyExcept(NameCharacters);
        var name = match[nameStart..nameEnd].ToString();
        var start = nameEnd + CountBlanks(match[nameEnd..]);
        return IsSecretName(name) && !name.EndsWith("-stdin", StringComparison.OrdinalIgnoreCase) && match[start] != '$' ? start.. : null;
    }

    private static readonly SearchValues<char> NameCharacters = SearchValues.Create("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-");

    private static int CountBlanks(ReadOnlySpan<char> text)
    {
        var count = 0;
        while (count < text.Length && char.IsWhiteSpace(text[count]))
        {
            count++;
        }

        return count;
    }

    /// <summary>docker run -u 1000:1000 or -u app:app names a user and group, not a password.</summary>
    private static bool IsUidGid(Match match) =>
        match.Groups["value"].Value is var value && (value.All(char.IsAsciiDigit) || value == match.Groups["user"].Value);

    /// <summary>The match with one group masked, keeping the quotes around it; an already masked group stays as it is.</summary>
    private static string MaskGroup(Match match, string groupName)
    {
        var value = match.Groups[groupName];
        if (!value.Success || value.Length == 0 || value.Value.Contains(Mask, StringComparison.Ordinal))
        {
            return match.Value;
        }

        var quote = value.Value[0] is '"' or '\'' ? value.Value[0].ToString() : "";
        var start = value.Index - match.Index;
        return string.Concat(match.Value.AsSpan(0, start), quote + Mask + quote, match.Value.AsSpan(start + value.Length));
    }

    private const string ArmourBegin = "-----BEGIN ";
    private const string ArmourDashes = "-----";
    private const int MaxArmourLabel = 64;

    /// <summary>
    /// Masks the body of every private-key armour block — PEM ("RSA PRIVATE KEY", "ENCRYPTED PRIVATE KEY"), OpenSSH,
    /// PGP ("PGP PRIVATE KEY BLOCK") — keeping the BEGIN and END lines. A block without its END line is masked to
    /// the end of the text. A scanner rather than a regex: each BEGIN looks at most 64 characters ahead for its
    /// label, and an END search that fails ends the scan, so the cost stays linear.
    /// </summary>
    private static string MaskPrivateKeyBlocks(string text)
    {
        var begin = text.IndexOf(ArmourBegin, StringComparison.Ordinal);
        if (begin < 0)
        {
            return text;
        }

        var result = new StringBuilder(text.Length);
        var copied = 0;
        while (begin >= 0)
        {
            var labelStart = begin + ArmourBegin.Length;
            var labelEnd = text.IndexOf(ArmourDashes, labelStart, Math.Min(MaxArmourLabel, text.Length - labelStart), StringComparison.Ordinal);
            if (labelEnd < 0 || !IsSecretKeyLabel(text.AsSpan(labelStart, labelEnd - labelStart)))
            {
                begin = text.IndexOf(ArmourBegin, labelStart, StringComparison.Ordinal);
                continue;
            }

            var bodyStart = labelEnd + ArmourDashes.Length;
            var endLine = $"-----END {text[labelStart..labelEnd]}-----";
            var end = text.IndexOf(endLine, bodyStart, StringComparison.Ordinal);
            result.Append(text, copied, bodyStart - copied).Append('\n').Append(Mask);
            if (end < 0)
            {
                copied = text.Length;
                break;
            }

            result.Append('\n').Append(endLine);
            copied = end + endLine.Length;
            begin = text.IndexOf(ArmourBegin, copied, StringComparison.Ordinal);
        }

        return result.Append(text, copied, text.Length - copied).ToString();
    }

    private static bool IsSecretKeyLabel(ReadOnlySpan<char> label)
    {
        foreach (var c in label)
        {
            if (!(char.IsAsciiLetterUpper(c) || char.IsAsciiDigit(c) || c == ' '))
            {
                return false;
            }
        }

        return label.Contains("PRIVATE KEY", StringComparison.Ordinal) || label.Contains("SECRET KEY", StringComparison.Ordinal);
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
    /// an environment, and every other string goes through <see cref="RedactText"/> and then <see cref="RedactValues"/>
    /// with <paramref name="knownSecrets"/>. Property names are never changed: masking by value works on the string
    /// values of the tree, so a known value that happens to be a key ("exit_code") cannot break the JSON's shape.
    /// </summary>
    public static JsonNode? RedactJson(JsonNode? node, IReadOnlyCollection<string>? knownSecrets = null) =>
        Redact(node, maskStrings: false, MaskableValues(knownSecrets ?? []));

    private static JsonNode? Redact(JsonNode? node, bool maskStrings, IReadOnlyList<string> knownSecrets)
    {
        switch (node)
        {
            case null:
                return null;
            case JsonObject obj:
                var copy = new JsonObject();
                foreach (var (name, value) in obj)
                {
                    // "keys" holding an array is session_job_input's list of key names (Enter, Ctrl-C), not key material.
                    var secret = maskStrings || (IsSecretName(name) && !(name == "keys" && value is JsonArray));
                    copy[name] = string.Equals(name, "env", StringComparison.OrdinalIgnoreCase) && value is JsonObject env && !secret
                        ? RedactEnvObject(env, knownSecrets)
                        : Redact(value, secret, knownSecrets);
                }

                return copy;
            case JsonArray array:
                var items = new JsonArray();
                foreach (var item in array)
                {
                    items.Add(Redact(item, maskStrings, knownSecrets));
                }

                return items;
            case JsonValue value when value.TryGetValue<string>(out var text):
                return JsonValue.Create(maskStrings && text.Length > 0 ? Mask : MaskValues(RedactText(text), knownSecrets));
            default:
                return node.DeepClone();
        }
    }

    private static JsonObject RedactEnvObject(JsonObject env, IReadOnlyList<string> knownSecrets)
    {
        var copy = new JsonObject();
        foreach (var (name, value) in env)
        {
            copy[name] = value is JsonValue v && v.TryGetValue<string>(out var text)
                ? JsonValue.Create(MaskValues(RedactEnvValue(name, text), knownSecrets))
                : Redact(value, IsSecretName(name), knownSecrets);
        }

        return copy;
    }

    /// <summary>
    /// Masks known secret values (a session's API_TOKEN...) wherever they appear in plain text, raw or JSON-escaped,
    /// but only those that could be a secret (<see cref="CouldBeSecret"/>). For JSON use
    /// <see cref="RedactJson"/> with the values instead, which leaves property names alone.
    /// </summary>
    public static string RedactValues(string text, IEnumerable<string> values) => MaskValues(text, MaskableValues(values));

    /// <summary>
    /// Whether a value known to belong to a secret-named variable is masked wherever it appears. The rule: at least
    /// <see cref="MinMaskedValueLength"/> (8) characters, and not a plain word or identifier — letters only, in words
    /// joined by '_', '-' or '.', each word all lower case, all upper case or Capitalised ("exit_code", "Release",
    /// "main-branch") — unless it is <see cref="PassphraseLength"/> (24) characters or longer. Digits, other symbols or
    /// mixed case inside a word are what a generated or chosen secret has and a word of prose or a JSON key lacks; a
    /// short plain value (DEPLOY_TOKEN=curl, X_PASSWORD=exit_code) would otherwise blind the log to every "curl".
    /// The assignment itself (DEPLOY_TOKEN=curl) is still masked by name.
    /// </summary>
    public static bool CouldBeSecret(string value)
    {
        if (value.Length < MinMaskedValueLength)
        {
            return false;
        }

        return value.Length >= PassphraseLength || !IsPlainIdentifier(value);
    }

    private static bool IsPlainIdentifier(string value)
    {
        foreach (var word in value.Split(['_', '-', '.'], StringSplitOptions.RemoveEmptyEntries))
        {
            var lower = word.All(char.IsAsciiLetterLower);
            var upper = word.All(char.IsAsciiLetterUpper);
            var capitalised = char.IsAsciiLetterUpper(word[0]) && word.Skip(1).All(char.IsAsciiLetterLower);
            if (!(lower || upper || capitalised))
            {
                return false;
            }
        }

        return true;
    }

    private static List<string> MaskableValues(IEnumerable<string> values) =>
        [.. values.Where(CouldBeSecret).Distinct().OrderByDescending(v => v.Length)];

    private static string MaskValues(string text, IReadOnlyList<string> values)
    {
        foreach (var value in values)
        {
            text = text.Replace(value, Mask, StringComparison.Ordinal);
            // The text may itself carry JSON (a command printed a config file), with the value escaped in it.
            var escaped = JsonEncodedText.Encode(value, JavaScriptEncoder.UnsafeRelaxedJsonEscaping).ToString();
            if (escaped != value)
            {
                text = text.Replace(escaped, Mask, StringComparison.Ordinal);
            }

            var strictlyEscaped = JsonEncodedText.Encode(value).ToString();
            if (strictlyEscaped != value && strictlyEscaped != escaped)
            {
                text = text.Replace(strictlyEscaped, Mask, StringComparison.Ordinal);
            }
        }

        return text;
    }

    // Token formats with a recognisable prefix. The bounded repeats keep the automaton small; a longer token is
    // still masked up to the bound, and its remainder is no credential on its own.
    [GeneratedRegex(
        @"\b(?:AKIA|ASIA)[A-Z0-9]{16}\b" +
        @"|\bgh[pousr]_[A-Za-z0-9]{20,255}\b" +
        @"|\bgithub_pat_[A-Za-z0-9_]{20,255}\b" +
        @"|\bgl(?:pat|dt|rt|ptt|cbt|oas)-[A-Za-z0-9_\-]{20,}" +
        @"|\bxox[abeprs]-[A-Za-z0-9\-]{10,}" +
        @"|\bxapp-[A-Za-z0-9\-]{10,}" +
        @"|\bsk-(?:ant-|proj-)?[A-Za-z0-9_\-]{20,}" +
        @"|\bAIza[0-9A-Za-z_\-]{35}" +
        @"|\bya29\.[0-9A-Za-z_\-]{20,}" +
        @"|\bGOCSPX-[0-9A-Za-z_\-]{20,}" +
        @"|\b(?:sk|rk|pk)_(?:live|test)_[0-9A-Za-z]{16,}" +
        @"|\bwhsec_[0-9A-Za-z]{20,}" +
        @"|\bhf_[A-Za-z0-9]{30,}" +
        @"|\bsmcp_[A-Za-z0-9_\-]{43}" + // session-mcp's own bearer tokens (Access/TokenStore)
        @"|\bnpm_[A-Za-z0-9]{30,}" +
        @"|\bpypi-[A-Za-z0-9_\-]{50,}" +
        @"|\bdop_v1_[a-f0-9]{64}" +
        @"|\bshp(?:at|ca|pa|ss)_[a-fA-F0-9]{32}" +
        @"|\bSG\.[A-Za-z0-9_\-]{22}\.[A-Za-z0-9_\-]{43}" +
        @"|\bAGE-SECRET-KEY-1[0-9A-Z]{58}" +
        @"|\bhooks\.slack\.com/(?:services|workflows|triggers)/[A-Za-z0-9_/\-]+" +
        @"|\bdiscord(?:app)?\.com/api/webhooks/[0-9]+/[A-Za-z0-9_\-]+" +
        @"|\beyJ[A-Za-z0-9_\-]{5,}\.eyJ[A-Za-z0-9_\-]{5,}\.[A-Za-z0-9_\-]*",
        RegexOptions.NonBacktracking)]
    private static partial Regex KnownTokenFormats();

    [GeneratedRegex(@"(?<prefix>\b(?:proxy-)?authorization[""']?\s*[:=]\s*[""']?(?:(?:bearer|basic|token|bot|digest|negotiate|ntlm)\s+)?)[^\s""',;]+", RegexOptions.IgnoreCase | RegexOptions.NonBacktracking)]
    private static partial Regex AuthorizationHeader();

    // The token class has no '[', so an already masked "Bearer [REDACTED]" does not match again.
    [GeneratedRegex(@"(?<prefix>\bbearer\s+)[A-Za-z0-9\-._~+/]{16,}=*", RegexOptions.IgnoreCase | RegexOptions.NonBacktracking)]
    private static partial Regex BearerToken();

    [GeneratedRegex(@"\b[A-Za-z][A-Za-z0-9+.\-]*://[^\s:/@'""]*:(?<value>[^\s/@'""]+)@", RegexOptions.NonBacktracking)]
    private static partial Regex UrlPassword();

    // curl -u user:pw, curl --user=user:pw, --proxy-user; wget and others take --password, which the rules below catch.
    [GeneratedRegex(@"(?:^|\s)(?:-u|-U|--user|--proxy-user)(?:\s+|=)?['""]?(?<user>[^\s:'""]*):(?<value>[^\s'""]+)", RegexOptions.NonBacktracking)]
    private static partial Regex UserOption();

    // mysql -pPW (attached: "-p PW" prompts and names a database), sshpass -p PW, docker/podman login -p PW,
    // and a .netrc's "login NAME password PW".
    [GeneratedRegex(
        @"\b(?:mysql|mariadb|mysqldump|mysqladmin|mysqlimport|mysqlshow|mysqlcheck|mysqlpump|mysqlsh|mysqlbinlog|mariadb-dump)\b[^\n;&|]*\s-p(?<value>'[^'\n]*'|""(?:[^""\\\n]|\\.)*""|[^\s'""]\S*)" +
        @"|\b(?:sshpass|(?:docker|podman|nerdctl|buildah|skopeo|oras|helm\s+registry)\s+login)\b[^\n;&|]*\s-p\s*(?<value>'[^'\n]*'|""(?:[^""\\\n]|\\.)*""|[^\s'""-]\S*)" +
        @"|\blogin\s+\S+\s+password\s+(?<value>\S+)",
        RegexOptions.NonBacktracking)]
    private static partial Regex CommandPassword();

    private const string NameChars = @"[A-Za-z0-9_.\-]";

    /// <summary>
    /// Every name <see cref="IsSecretName"/> accepts contains one of these, in any case. Spelled out rather than (?i),
    /// which would also match the Kelvin sign for K, a character the evaluators do not count as part of a name.
    /// </summary>
    private const string SecretishWord =
        "(?:[Ss][Ee][Cc][Rr][Ee][Tt]|[Cc][Oo][Oo][Kk][Ii][Ee]|[Tt][Oo][Kk][Ee][Nn]|[Kk][Ee][Yy]|[Pp][Ww][Dd]|[Cc][Rr][Ee][Dd]" +
        "|[Pp][Aa][Tt]|[Ss][Ii][Gg]|[Pp][Aa][Ss][Ss]|[Aa][Uu][Tt][Hh])";

    // name=value, name: value, "name": "value", for names holding a word IsSecretName looks for (it decides in
    // AssignedSecret): other assignments, the bulk of a minified bundle or a JSON document, are no matches at all.
    // A call ("(" after the value) and an "Authorization: Bearer" scheme word, which the backtracking version
    // excluded with lookaheads, are matched and then left alone.
    [GeneratedRegex(NameChars + "*" + SecretishWord + NameChars + @"*[""']?\s*[:=]\s*(?:""(?:[^""\\\n]|\\.)*""|'[^'\n]*'|[^\s=>{\[(;&|,""'`)}\]][^\s;&|,""'`(){}\[\]]*)(?:\(|\s)?", RegexOptions.NonBacktracking)]
    private static partial Regex Assignment();

    [GeneratedRegex(@"(?:^|\s)--" + NameChars + "*" + SecretishWord + NameChars + @"*\s+(?:""(?:[^""\\\n]|\\.)*""|'[^'\n]*'|[^\s\-]\S*)", RegexOptions.NonBacktracking)]
    private static partial Regex FlagWithValue();
}
