using SessionMcp.SessionRouting.Sessions;

namespace SessionMcp.SessionRouting.Tests.Sessions;

public sealed class SessionIdTests
{
    [Fact]
    public void NewIdsAreShortLowercaseAndSafeInPathsAndUrls()
    {
        // Given / When
        var ids = Enumerable.Range(0, 2000).Select(_ => SessionId.New()).ToList();

        // Then
        Assert.All(ids, id =>
        {
            Assert.Matches("^s-[0-9a-hjkmnp-tv-z]{8}$", id);
            Assert.True(SessionId.IsWellFormed(id));
            Assert.Equal(id, Uri.EscapeDataString(id));
            Assert.Equal(-1, id.IndexOfAny(Path.GetInvalidFileNameChars()));
        });
        Assert.Equal(ids.Count, ids.Distinct().Count());
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("s-")]
    [InlineData("s-abcdefg")]
    [InlineData("s-abcdefghj")]
    [InlineData("S-ABCDEFGH")]
    [InlineData("x-abcdefgh")]
    [InlineData("s-abcdefgi")]
    [InlineData("s-abcdefgl")]
    [InlineData("s-abcdefgo")]
    [InlineData("s-abcdefgu")]
    [InlineData("s-abc/efgh")]
    [InlineData("s-../../x")]
    [InlineData(" s-abcdefgh")]
    [InlineData("s-abcdefgh\n")]
    public void MalformedIdsAreRejected(string? id)
    {
        // Given / When / Then
        Assert.False(SessionId.IsWellFormed(id));
    }
}
