namespace Pipeline.Tests.Trainer;

/// <summary>The built trainer executable (the training job, and the scoring job in <c>score</c> mode) beside the tests' build output.</summary>
internal static class TrainerExecutable
{
    public static string Path()
    {
        // artifacts/bin/Pipeline.Tests/{config}/ → artifacts/bin/Pipeline.Trainer/{config}/Pipeline.Trainer
        var testDirectory = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(System.IO.Path.DirectorySeparatorChar));
        var path = System.IO.Path.Combine(testDirectory.Parent!.Parent!.FullName, "Pipeline.Trainer", testDirectory.Name, "Pipeline.Trainer");
        Assert.True(File.Exists(path), $"Trainer not built at {path}; build Serverless.sln first.");
        return path;
    }
}
