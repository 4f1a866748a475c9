using SessionMcp.SessionRouting.Audit;

namespace SessionMcp.SessionRouting.Tests.Audit;

public sealed class HashChainTests
{
    private static readonly DateTimeOffset Start = new(2025, 1, 2, 3, 4, 5, TimeSpan.Zero);

    [Fact]
    public void TheHashIsStableAndCoversEveryField()
    {
        // Given an entry
        var entry = Entry(1);
        var hash = HashChain.Compute(1, HashChain.Genesis, entry);

        // When / Then it is a deterministic SHA-256 in lowercase hex
        Assert.Equal(hash, HashChain.Compute(1, HashChain.Genesis, entry with { }));
        Assert.Matches("^[0-9a-f]{64}$", hash);

        // And changing any single field, the sequence number or the previous hash changes it
        AuditEntry[] variants =
        [
            entry with { Time = entry.Time.AddTicks(1) },
            entry with { SessionId = "s-other000" },
            entry with { SessionId = null },
            entry with { Kind = AuditKinds.SessionCreated },
            entry with { Tool = "session_read_file" },
            entry with { Client = "other/1" },
            entry with { Arguments = """{"command":"echo 2"}""" },
            entry with { Outcome = AuditOutcomes.Error },
            entry with { Error = "boom" },
            entry with { Summary = """{"exit_code":1}""" },
            entry with { DurationMs = entry.DurationMs + 1 },
            entry with { Output = """{"stdout":"other"}""" },
        ];
        Assert.All(variants, v => Assert.NotEqual(hash, HashChain.Compute(1, HashChain.Genesis, v)));
        Assert.NotEqual(hash, HashChain.Compute(2, HashChain.Genesis, entry));
        Assert.NotEqual(hash, HashChain.Compute(1, new string('1', 64), entry));
    }

    [Fact]
    public void FieldsCannotBeShiftedIntoOneAnother()
    {
        // Given two entries whose concatenated text is the same
        var a = Entry(1) with { Tool = "ab", Client = "c" };
        var b = Entry(1) with { Tool = "a", Client = "bc" };

        // When / Then
        Assert.NotEqual(HashChain.Compute(1, HashChain.Genesis, a), HashChain.Compute(1, HashChain.Genesis, b));
    }

    [Fact]
    public void AnIntactChainVerifies()
    {
        // Given / When / Then
        Assert.Null(HashChain.Verify(Chain(5)));
        Assert.Null(HashChain.Verify([]));
    }

    [Fact]
    public void AnAlteredFieldIsReportedAtItsEvent()
    {
        // Given a chain in which event 3's output was changed after hashing
        var chain = Chain(5);
        chain[2] = chain[2] with { Entry = chain[2].Entry with { Output = """{"stdout":"forged"}""" } };

        // When
        var broken = HashChain.Verify(chain);

        // Then
        Assert.NotNull(broken);
        Assert.Equal(3, broken.Seq);
        Assert.Contains("altered", broken.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void AnEventRehashedAfterAlterationBreaksTheNextLink()
    {
        // Given a forger who also recomputed event 3's own hash
        var chain = Chain(5);
        var forged = chain[2].Entry with { Outcome = AuditOutcomes.Error };
        chain[2] = chain[2] with { Entry = forged, Hash = HashChain.Compute(3, chain[2].PrevHash, forged) };

        // When
        var broken = HashChain.Verify(chain);

        // Then event 4 no longer points at it
        Assert.NotNull(broken);
        Assert.Equal(4, broken.Seq);
        Assert.Contains("prev_hash", broken.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void ADeletedEventShowsAsAGap()
    {
        // Given a chain without event 3
        var chain = Chain(5);
        chain.RemoveAt(2);

        // When
        var broken = HashChain.Verify(chain);

        // Then
        Assert.NotNull(broken);
        Assert.Equal(4, broken.Seq);
        Assert.Contains("missing", broken.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void ADeletedFirstEventShowsAsAGap()
    {
        // Given
        var chain = Chain(3);
        chain.RemoveAt(0);

        // When / Then
        Assert.Equal(2, HashChain.Verify(chain)?.Seq);
    }

    [Fact]
    public void ReorderedEventsAreDetected()
    {
        // Given events 2 and 3 swapped
        var chain = Chain(4);
        (chain[1], chain[2]) = (chain[2], chain[1]);

        // When
        var broken = HashChain.Verify(chain);

        // Then
        Assert.NotNull(broken);
        Assert.Equal(3, broken.Seq);
    }

    [Fact]
    public void RenumberedEventsAreDetected()
    {
        // Given events 2 and 3 swapped and renumbered so the sequence has no gap
        var chain = Chain(4);
        (chain[1], chain[2]) = (chain[2] with { Seq = 2 }, chain[1] with { Seq = 3 });

        // When
        var broken = HashChain.Verify(chain);

        // Then
        Assert.NotNull(broken);
        Assert.Equal(2, broken.Seq);
    }

    [Fact]
    public void TheStoredTimeFormatRoundTripsToTheSameHash()
    {
        // Given a time with sub-millisecond precision in another offset
        var time = new DateTimeOffset(2025, 6, 1, 12, 0, 0, TimeSpan.FromHours(2)).AddTicks(1234567);

        // When it is stored as text and parsed back
        var text = HashChain.FormatTime(time);
        var parsed = DateTimeOffset.Parse(text, System.Globalization.CultureInfo.InvariantCulture, System.Globalization.DateTimeStyles.AssumeUniversal | System.Globalization.DateTimeStyles.AdjustToUniversal);

        // Then
        Assert.EndsWith("Z", text, StringComparison.Ordinal);
        Assert.Equal(HashChain.Compute(1, HashChain.Genesis, Entry(1) with { Time = time }), HashChain.Compute(1, HashChain.Genesis, Entry(1) with { Time = parsed }));
    }

    internal static AuditEntry Entry(int n) => new(
        Start.AddSeconds(n), "s-abcdefgh", AuditKinds.ToolCall, "session_exec", "tests/1", $$"""{"command":"echo {{n}}"}""",
        AuditOutcomes.Ok, null, """{"exit_code":0}""", 12, $$"""{"stdout":"{{n}}\n"}""");

    private static List<AuditEvent> Chain(int count)
    {
        var events = new List<AuditEvent>();
        var prev = HashChain.Genesis;
        for (var seq = 1; seq <= count; seq++)
        {
            var entry = Entry(seq);
            var hash = HashChain.Compute(seq, prev, entry);
            events.Add(new AuditEvent(seq, entry, prev, hash));
            prev = hash;
        }
        return events;
    }
}
