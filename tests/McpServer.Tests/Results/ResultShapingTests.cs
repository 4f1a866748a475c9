using SessionMcp.McpServer.Results;
using SessionMcp.McpServer.Tools;

namespace SessionMcp.McpServer.Tests.Results;

/// <summary>The pure parts of shaping results: fitting a budget and sharing it between streams.</summary>
public sealed class ResultShapingTests
{
    [Fact]
    public void AResultThatFitsIsReturnedWhole()
    {
        // Given a generous budget
        var budget = new ResultBudget(40_000);

        // When a small output is fitted
        var result = budget.Fit(5, allowance => ExecResult.Create(0, "hello", "", allowance, "/w", 1, false, null));

        // Then nothing is cut
        Assert.Equal("hello", result.Stdout);
        Assert.False(result.Truncated);
    }

    [Theory]
    [InlineData(5_000)]
    [InlineData(40_000)]
    [InlineData(100_000)]
    public void AnyOutputIsCutToFitTheBudgetAndUsesMostOfIt(int budgetChars)
    {
        // Given output with characters JSON must escape, far over the budget
        var budget = new ResultBudget(budgetChars);
        var stdout = string.Concat(Enumerable.Repeat("\"quoted\"\t\\path\n", 50_000));

        // When it is fitted
        var result = budget.Fit(Math.Min(stdout.Length, budgetChars), allowance => ExecResult.Create(1, stdout, "", allowance, "/w", 1, false, null));

        // Then the result fits, is marked truncated, and does not waste the budget
        var size = ResultBudget.SizeOf(result);
        Assert.True(size <= budgetChars, $"{size} > {budgetChars}");
        Assert.True(size > budgetChars * 0.8, $"only {size} of {budgetChars} used");
        Assert.True(result.Truncated);
    }

    [Theory]
    [InlineData(100, 10, 20, 10, 20)]
    [InlineData(100, 90, 30, 70, 30)]
    [InlineData(100, 30, 90, 30, 70)]
    [InlineData(100, 90, 90, 50, 50)]
    [InlineData(101, 90, 90, 51, 50)]
    public void TwoStreamsShareTheAllowanceAndOneLeavesWhatItDoesNotNeedToTheOther(int allowance, int first, int second, int expectedFirst, int expectedSecond)
    {
        // Given / When
        var shares = ExecResult.Share(allowance, first, second);

        // Then
        Assert.Equal((expectedFirst, expectedSecond), shares);
    }

    [Fact]
    public void WithNoAllowanceFittingTheMinimumIsReturned()
    {
        // Given a budget smaller than the fixed part of any result
        var budget = new ResultBudget(10);

        // When
        var result = budget.Fit(1_000, allowance => ExecResult.Create(0, new string('x', 1_000), "", allowance, "/w", 1, false, null));

        // Then the smallest result comes back rather than nothing
        Assert.Equal(0, result.ExitCode);
        Assert.True(result.Truncated);
    }
}
