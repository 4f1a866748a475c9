using System.Globalization;
using Microsoft.Extensions.Options;

namespace SessionMcp.SessionRouting.Jobs;

/// <summary>How much job output the server keeps: per job, per session and in all.</summary>
internal sealed class JournalOptions
{
    /// <summary>The start of each job's output kept (frame headers included).</summary>
    public long HeadBytes { get; set; } = JournalLimits.Default.HeadBytes;

    /// <summary>The end of each job's output kept, rolling (frame headers included).</summary>
    public long TailBytes { get; set; } = JournalLimits.Default.TailBytes;

    /// <summary>All journals of one session: ~10 jobs at the default limits.</summary>
    public long SessionBytes { get; set; } = 64L << 20;

    /// <summary>All journals of the server.</summary>
    public long ServerBytes { get; set; } = 512L << 20;

    /// <summary>The least a new job is given when the budget is tight; with less room it is refused.</summary>
    public long MinJobBytes { get; set; } = 256L << 10;

    public JournalLimits Limits => new(HeadBytes, TailBytes);
}

/// <summary>Rejects settings the budget cannot work with, at start-up rather than at the first job.</summary>
internal sealed class JournalOptionsValidator : IValidateOptions<JournalOptions>
{
    public ValidateOptionsResult Validate(string? name, JournalOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var failures = new List<string>();
        if (options.HeadBytes is < 0 or > JournalLimits.MaxBytes)
        {
            failures.Add(Format($"HeadBytes must be between 0 and {JournalLimits.MaxBytes}; it is {options.HeadBytes}"));
        }

        if (options.TailBytes is < JournalLimits.MinTailBytes or > JournalLimits.MaxBytes)
        {
            failures.Add(Format($"TailBytes must be between {JournalLimits.MinTailBytes} and {JournalLimits.MaxBytes}; it is {options.TailBytes}"));
        }

        var smallest = new JournalLimits(0, JournalLimits.MinTailBytes).MaxDiskBytes;
        if (options.MinJobBytes < smallest)
        {
            failures.Add(Format($"MinJobBytes must be at least {smallest} (the smallest journal); it is {options.MinJobBytes}"));
        }

        if (options.SessionBytes < options.MinJobBytes)
        {
            failures.Add(Format($"SessionBytes ({options.SessionBytes}) must be at least MinJobBytes ({options.MinJobBytes})"));
        }

        if (options.ServerBytes < options.SessionBytes)
        {
            failures.Add(Format($"ServerBytes ({options.ServerBytes}) must be at least SessionBytes ({options.SessionBytes})"));
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }

    private static string Format(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
}
