namespace Pipeline.Contracts;

/// <summary>Learning task names as they appear in manifests and <c>dataset.json</c>.</summary>
public static class TaskKind
{
    public const string Classification = "classification";
    public const string Regression = "regression";

    public static bool IsKnown(string? task) => task is Classification or Regression;
}
