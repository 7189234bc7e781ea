namespace Pipeline.Infra.Tests;

/// <summary>
/// The scoring job (infra/app/scoring.bicep): files above the functions app's limit, scored on the training
/// environment's Consumption (CPU) profile, triggered by KEDA on score-jobs with the scorer's own identity.
/// </summary>
public sealed class ScoringJobTests(CompiledTemplate template)
{
    private TemplateResource Job => template.SingleOf("Microsoft.App/jobs", "scoring");

    private JsonElement ScaleRule => Assert.Single(Job.Properties.At("configuration", "eventTriggerConfig", "scale", "rules").EnumerateArray());

    private JsonElement Container => Assert.Single(Job.Properties.At("template", "containers").EnumerateArray());

    [Fact]
    public void Job_RunsOnTheTrainingEnvironmentsConsumptionProfile()
    {
        Assert.Equal("Consumption", Job.Properties.StringAt("workloadProfileName"));
        Assert.Contains("Microsoft.App/managedEnvironments", Job.Properties.StringAt("environmentId"), StringComparison.Ordinal);
        Assert.True(template.Module("scoring").ParameterValue("environmentName").ComesFromModule("training"));
        Assert.Single(template.OfType("Microsoft.App/managedEnvironments"));
    }

    [Fact]
    public void Job_Trigger_IsAzureQueueOnScoreJobsWithTheScorerIdentityNotASecret()
    {
        var configuration = Job.Properties.At("configuration");
        Assert.Equal("Event", configuration.StringAt("triggerType"));
        Assert.Equal(0, configuration.At("eventTriggerConfig", "scale", "minExecutions").GetInt32());
        Assert.Equal("azure-queue", ScaleRule.StringAt("type"));
        Assert.Equal("score-jobs", Job.Resolve(ScaleRule.StringAt("metadata", "queueName")));
        Assert.Equal("1", ScaleRule.StringAt("metadata", "queueLength"));
        Assert.False(ScaleRule.TryGetProperty("auth", out _), "The scale rule must not use a secret.");
        Assert.True(Job.Resolve(ScaleRule.StringAt("identity")).ComesFromModule("scorer-identity"));
        var registry = Assert.Single(configuration.At("registries").EnumerateArray());
        Assert.True(Job.Resolve(registry.StringAt("identity")).ComesFromModule("scorer-identity"));
    }

    [Fact]
    public void Job_Container_RunsTheImageInScoreModeWithIdentityBasedStorage()
    {
        Assert.Equal(["score"], Container.At("args").EnumerateArray().Select(a => a.GetString()));
        var env = Container.At("env").EnumerateArray().ToDictionary(item => item.StringAt("name"), item => item);
        Assert.Equal(["Storage__BlobServiceUri", "Storage__QueueServiceUri", "AZURE_CLIENT_ID", "APPLICATIONINSIGHTS_CONNECTION_STRING"], env.Keys);
        Assert.All(env.Values, item => Assert.False(item.TryGetProperty("secretRef", out _)));
        Assert.True(Job.Resolve(env["AZURE_CLIENT_ID"].StringAt("value")).ComesFromModule("scorer-identity"));
        // More than one core: 8 GiB of ephemeral disk for the input and output (Scoring:MaxJobFileBytes, 3 GiB).
        Assert.Equal("[json('2.0')]", Container.StringAt("resources", "cpu"));
    }

    [Fact]
    public void Job_Timeout_IsABoundedParameterSizedForTheLargestFile()
    {
        Assert.Equal("[parameters('replicaTimeoutSeconds')]", Job.Properties.StringAt("configuration", "replicaTimeout"));
        Assert.Equal(0, Job.Properties.At("configuration", "replicaRetryLimit").GetInt32());
        var timeout = template.RootParameter("scoringTimeoutSeconds");
        // 3 GiB at the measured ~50 MB/s end to end is ~1 minute: the default leaves a wide margin, far below training's hours.
        Assert.InRange(timeout.At("defaultValue").GetInt32(), 600, 3600);
        foreach (var name in (string[])["scoringTimeoutSeconds", "scoringMaxExecutions"])
        {
            var parameter = template.RootParameter(name);
            Assert.True(parameter.TryGetProperty("minValue", out _) && parameter.TryGetProperty("maxValue", out _), $"{name} is unbounded.");
        }
    }

    [Fact]
    public void Job_Tags_NameTheAzdServiceScorer()
    {
        Assert.Contains("'azd-service-name'", Job.Element.StringAt("tags"), StringComparison.Ordinal);
        Assert.Equal("scorer", template.Module("scoring").ParameterValue("serviceName"));
    }
}
