namespace Pipeline.Infra.Tests;

/// <summary>Bad parameter values fail at `bicep build-params` (and so before ARM starts deploying), not half-way.</summary>
public sealed class ParameterValidationTests(CompiledTemplate template)
{
    [Fact]
    public void Location_AllowedValues_AreServerlessGpuRegionsOnly()
    {
        // Regions where Container Apps serverless GPUs (T4 and A100) are documented; see the comment in main.bicep.
        string[] serverlessGpuRegions = ["australiaeast", "swedencentral", "westus3"];
        var allowed = template.RootParameter("location").At("allowedValues").EnumerateArray().Select(value => value.GetString()!).ToList();
        Assert.NotEmpty(allowed);
        Assert.All(allowed, region => Assert.Contains(region, serverlessGpuRegions));
    }

    [Fact]
    public void BuildParams_ValidValues_Succeeds()
    {
        var result = BuildParams("param location = 'westus3'", "param functionInstanceMemoryMB = 4096");
        Assert.True(result.ExitCode == 0, result.Output);
    }

    [Fact]
    public void BuildParams_RegionWithoutServerlessGpu_IsRejected()
    {
        var result = BuildParams("param location = 'eastus'");
        Assert.NotEqual(0, result.ExitCode);
        Assert.Contains("'eastus'", result.Output, StringComparison.Ordinal);
        Assert.Contains("'westus3'", result.Output, StringComparison.Ordinal);
    }

    [Fact]
    public void BuildParams_MemorySizeFlexDoesNotOffer_IsRejected()
    {
        var result = BuildParams("param location = 'westus3'", "param functionInstanceMemoryMB = 1024");
        Assert.NotEqual(0, result.ExitCode);
        Assert.Contains("1024", result.Output, StringComparison.Ordinal);
    }

    [Fact]
    public void BuildParams_GpuProfileNotServerless_IsRejected()
    {
        var result = BuildParams("param location = 'westus3'", "param gpuProfileType = 'NC24-A100'");
        Assert.NotEqual(0, result.ExitCode);
        Assert.Contains("NC24-A100", result.Output, StringComparison.Ordinal);
    }

    [Fact]
    public void BuildParams_TrainingTimeoutBelowMinimum_IsRejected()
    {
        var result = BuildParams("param location = 'westus3'", "param trainingTimeoutSeconds = 60");
        Assert.NotEqual(0, result.ExitCode);
        Assert.Contains("600", result.Output, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("blobSoftDeleteDays")]
    [InlineData("blobVersionRetentionDays")]
    public void BuildParams_NoRetention_IsRejected(string parameter)
    {
        // Soft delete and versioning of the pipeline account's blobs are not optional; how long they keep data is.
        var result = BuildParams("param location = 'westus3'", $"param {parameter} = 0");
        Assert.NotEqual(0, result.ExitCode);
        Assert.Contains("minimum allowable value is 1", result.Output, StringComparison.Ordinal);
    }

    [Fact]
    public void BuildParams_RetentionDaysWithinRange_Succeeds()
    {
        var result = BuildParams("param location = 'westus3'", "param blobSoftDeleteDays = 30", "param blobVersionRetentionDays = 365");
        Assert.True(result.ExitCode == 0, result.Output);
    }

    private static BicepResult BuildParams(params string[] parameterLines)
    {
        var directory = Directory.CreateTempSubdirectory("pipeline-params-");
        try
        {
            var parametersFile = Path.Combine(directory.FullName, "test.bicepparam");
            // A .bicepparam file must name its template with a relative path.
            var mainBicep = Path.GetRelativePath(directory.FullName, RepositoryPaths.MainBicep).Replace('\\', '/');
            File.WriteAllLines(parametersFile, [$"using '{mainBicep}'", "param environmentName = 'ci'", .. parameterLines]);
            return BicepCli.Run("build-params", parametersFile, "--outfile", Path.Combine(directory.FullName, "test.parameters.json"));
        }
        finally
        {
            directory.Delete(recursive: true);
        }
    }
}
