process STATS {
    tag "${params.tissues ? tissue + ' ' : ''}${batch_id}"
    label 'process_low'

    input:
    // One batch for one tissue. ism is [] in phase 1 (STATS: every gene, no attribution) and the
    // batch's ISM tables in phase 2 (ATTRIBUTION_STATS: the selected genes); vcf and vcf_index are []
    // unless the PrediXcan baseline (predictdb) reads genotypes. The tissue: its name ('default'
    // without --tissues), expression (TSV or tensorQTL phenotype BED), covariates ([] when none: with
    // them every R is a partial correlation) and readouts ('' for every predicted readout).
    tuple val(batch_id), path(haplotypes), path(predictions), path(ism), path(vcf), path(vcf_index),
          val(tissue), path(expression), path(covariates), val(readouts)
    path predictdb          // [] when not given
    path finemapped         // [] when not given: drivers annotated with the fine-mapped causal variants

    output:
    // With tissues the tables are named <tissue>.<batch> (every tissue's tables meet in ATTRIBUTION_GENES
    // and MOTIFS); published as stats/<tissue>/<batch>.*
    path "stats/${params.tissues ? tissue + '.' : ''}${batch_id}.genes.tsv",    emit: genes
    path "stats/${params.tissues ? tissue + '.' : ''}${batch_id}.drivers.tsv",  emit: drivers
    path "stats/${params.tissues ? tissue + '.' : ''}${batch_id}.genedata.npz", emit: genedata   // the report's gene pages
    path 'versions.yml',                   emit: versions

    script:
    def db   = predictdb ? "--predictdb ${predictdb} --vcf ${vcf}" : ''
    def attr = ism ? "--ism ${ism}" : ''
    def enet = params.elastic_net_baseline ? '--elastic-net-baseline' : ''
    def cov  = covariates ? "--covariates ${covariates}" : ''
    def fine = finemapped ? "--finemapped ${finemapped}" : ''
    def name = params.tissues ? "${tissue}.${batch_id}" : batch_id
    def of_tissue = params.tissues ? "--tissue ${tissue} ${readouts}" : ''
    // null_draws unset: the null test's own default (50 for 'paper' as published, 1000 for 'empirical')
    def draws = params.null_draws ? "--null-draws ${params.null_draws}" : ''
    """
    seqgx stats \\
        --haplotypes ${haplotypes} --predictions ${predictions} ${attr} \\
        --expression ${expression} ${cov} ${of_tissue} ${fine} ${db} ${enet} \\
        --null-test ${params.null_test} ${draws} --seed ${params.seed} \\
        --min-samples ${params.min_samples} --batch-name ${name} --threads ${task.cpus} --out stats

    cat <<-END_VERSIONS > versions.yml
    "${task.process}":
        seqgx: \$(seqgx --version | sed 's/seqgx //')
    END_VERSIONS
    """

    stub:
    """
    mkdir -p stats
    touch stats/${params.tissues ? tissue + '.' : ''}${batch_id}.{genes.tsv,drivers.tsv,genedata.npz}
    printf '"%s":\\n    seqgx: stub\\n' "${task.process}" > versions.yml
    """
}
