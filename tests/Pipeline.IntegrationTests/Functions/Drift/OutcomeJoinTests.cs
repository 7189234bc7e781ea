using Pipeline.Monitoring;

namespace Pipeline.Tests.Functions.Drift;

/// <summary>How labelled outcomes are matched to observed rows by id.</summary>
public sealed class OutcomeJoinTests
{
    /// <summary>
    /// An integer id written with a zero fraction (a float column, a spreadsheet) is the integer; other ids match as
    /// written (trimmed): leading zeros, other fractions and text stay distinct.
    /// </summary>
    [Fact]
    public void Match_IntegerIdsWithAZeroFraction_AreTheInteger_OtherIdsAsWritten()
    {
        var join = new OutcomeJoin("id", "label", classification: true, test: 0.9);
        foreach (var (id, label) in new[] { ("17.0", "yes"), ("-4", "no"), (" 007 ", "yes"), ("2.5", "no"), ("a.0", "yes"), ("12.", "no") })
        {
            join.Add(id, label);
        }

        foreach (var (id, predicted) in new[] { ("17", "yes"), ("-4.000", "no"), ("7", "yes"), ("2.50", "no"), ("a", "yes"), ("12", "no") })
        {
            join.MatchLabel(id, predicted);
        }

        var result = join.Finish();
        Assert.Equal(2, result.Matched); // 17.0 = 17 and -4 = -4.000; 007 ≠ 7, 2.5 ≠ 2.50, a.0 ≠ a, 12. ≠ 12
        Assert.Equal(1.0, result.Live);
        Assert.Equal(4, result.UnmatchedOutcomes);
    }
}
